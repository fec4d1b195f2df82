// Token equivalence: what the real @trigger.dev/sdk mints vs what campaign-chat mints, same inputs.
//
// Runs the real SDK's tasks.trigger() against a local stand-in for Trigger.dev that, like the server
// when it does not send x-trigger-jwt, answers with x-trigger-jwt-claims only: the SDK then self-signs
// the public access token with the secret key. The clock is pinned so iat/exp are comparable.
// Inputs (env): SECRET_KEY, NOW_SECONDS, RUN_ID (the id the stand-in returns), CLAIMS (JSON),
// IDEMPOTENCY_KEY (raw key to pass to the SDK), OUR_TOKEN (minted by the Python service).
// Prints one JSON line: {sdkToken, sdkAcceptsOurs, request: {path, headers, body}}.
import http from "node:http";
import { configure, tasks } from "@trigger.dev/sdk";
import { validateJWT } from "@trigger.dev/core/v3/jwt";

const { SECRET_KEY, NOW_SECONDS, RUN_ID, CLAIMS, IDEMPOTENCY_KEY, OUR_TOKEN } = process.env;
if (!SECRET_KEY || !NOW_SECONDS || !RUN_ID || !CLAIMS || !IDEMPOTENCY_KEY || !OUR_TOKEN) {
  console.error("missing input: SECRET_KEY, NOW_SECONDS, RUN_ID, CLAIMS, IDEMPOTENCY_KEY and OUR_TOKEN are required");
  process.exit(2);
}

let seen;
const server = http.createServer((req, res) => {
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    seen = { path: req.url, headers: req.headers, body: JSON.parse(body) };
    res.writeHead(200, { "content-type": "application/json", "x-trigger-jwt-claims": CLAIMS });
    res.end(JSON.stringify({ id: RUN_ID, isCached: false }));
  });
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));

// Pin the clock for jose (it reads `new Date()`): iat/exp then match a token minted at NOW_SECONDS.
const nowMs = Number(NOW_SECONDS) * 1000;
const RealDate = Date;
globalThis.Date = class extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(nowMs);
    else super(...args);
  }
  static now() {
    return nowMs;
  }
};

try {
  configure({ baseURL: `http://127.0.0.1:${server.address().port}`, accessToken: SECRET_KEY });
  const handle = await tasks.trigger("framework-chat-turn", { hello: "world" }, { idempotencyKey: IDEMPOTENCY_KEY });
  const check = await validateJWT(OUR_TOKEN, SECRET_KEY);
  console.log(JSON.stringify({
    sdkToken: handle.publicAccessToken,
    sdkRunId: handle.id,
    sdkAcceptsOurs: check.ok,
    sdkRejection: check.ok ? null : check.error,
    request: seen,
  }));
} finally {
  server.close();
}
