#!/usr/bin/env node
// Closed-loop message throughput against chat-server, plain or with the traffic of live
// clients on top (bench/live.py drives it):
//   --reads   every received message is answered with a "read" of it (one read per
//             message: chat-tui sends one per burst, so this is the worst case)
//   --typing  every message is preceded by a "typing: true" to its recipient
//   --like-tui  as chat-tui behaves instead: each user looks at one conversation (the next
//             user's); messages from that peer are read, one "read" per 300 ms at most,
//             and a "typing: true" goes to that peer every 3 s; other messages only count
// Each of --users keeps --window messages in flight to random peers, --messages each; a
// message counts when the recipient's socket has it. Prints one JSON line.
const { io } = require("socket.io-client");

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith("--") ? all[i + 1] : "1"]);
    return acc;
  }, [])
);
const URL = args.url || "http://127.0.0.1:3000";
const USERS = +(args.users || 50);
const MESSAGES = +(args.messages || 400);
const WINDOW = +(args.window || 4);
const READS = args.reads === "1";
const TYPING = args.typing === "1";
const LIKE_TUI = args["like-tui"] === "1";
const TAG = Math.random().toString(36).slice(2, 8);
const now = () => Number(process.hrtime.bigint()) / 1e6;

function connect(auth) {
  return new Promise((resolve, reject) => {
    const socket = io(URL, { transports: ["websocket"], auth, reconnection: false, forceNew: true });
    const user = { socket };
    socket.on("session", (s) => { user.userID = s.userID; if (user.users) resolve(user); });
    socket.on("users", (u) => { user.users = u; if (user.userID) resolve(user); });
    socket.on("connect_error", reject);
  });
}

function pct(sorted, p) {
  return sorted.length ? +sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(2) : null;
}

(async () => {
  const users = [];
  for (let i = 0; i < USERS; i++) users.push(await connect({ username: `live${TAG}u${i}` }));
  const lat = [];
  let received = 0, reads = 0, readAcks = 0, typings = 0;
  const total = USERS * MESSAGES;
  const left = users.map(() => MESSAGES);
  let done;
  const finished = new Promise((r) => (done = r));
  function sendFrom(i) {
    if (left[i] <= 0) return;
    left[i]--;
    let j = Math.floor(Math.random() * (USERS - 1));
    if (j >= i) j++;
    if (TYPING) { users[i].socket.emit("typing", { to: users[j].userID, typing: true }); typings++; }
    users[i].socket.emit("private message", { content: `${i}|${now()}`, to: users[j].userID });
  }
  const sendRead = (u, peer, upTo) => {
    reads++;
    u.socket.emit("read", { with: peer, upTo }, () => { readAcks++; });
  };
  users.forEach((u, idx) => {
    const open = users[(idx + 1) % USERS].userID; // --like-tui: the conversation on screen
    let pending = null, timer = null;
    u.socket.on("private message", (m) => {
      if (m.to !== u.userID) return;
      const [i, ts] = m.content.split("|");
      received++;
      lat.push(now() - +ts);
      if (READS) sendRead(u, m.from, m.id);
      if (LIKE_TUI && m.from === open) {
        pending = m.id;
        if (!timer) timer = setTimeout(() => { timer = null; sendRead(u, open, pending); }, 300);
      }
      sendFrom(+i);
      if (received === total) done();
    });
    if (LIKE_TUI) {
      u.typingTimer = setInterval(() => { u.socket.emit("typing", { to: open, typing: true }); typings++; }, 3000);
    }
  });
  const t0 = now();
  users.forEach((_, i) => { for (let w = 0; w < WINDOW; w++) sendFrom(i); });
  const timer = setTimeout(done, 120000);
  await finished;
  clearTimeout(timer);
  const elapsed = (now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 300)); // the last read acks
  lat.sort((a, b) => a - b);
  users.forEach((u) => { clearInterval(u.typingTimer); u.socket.disconnect(); });
  console.log(JSON.stringify({
    reads: READS, typing: TYPING, like_tui: LIKE_TUI, received, lost: total - received, elapsed_s: +elapsed.toFixed(3),
    msgs_per_s: Math.round(received / elapsed), p50_ms: pct(lat, 50), p99_ms: pct(lat, 99),
    reads_sent: reads, read_acks: readAcks, typing_sent: typings,
  }));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
