#!/usr/bin/env node
// A Socket.IO JavaScript client written the way the tutorial's Vue client is (socket.js,
// App.vue, Chat.vue): autoConnect off, auth {username} then {sessionID}, no acks, no ids.
// Driven by tests/server/test_js_client.py; prints one JSON line per step.
const { io } = require("socket.io-client");

const URL = process.argv[2];
const PEER_NAME = process.argv[3];
const out = (step, data) => console.log(JSON.stringify({ step, ...data }));
const fail = (why) => { out("error", { why: String(why) }); process.exit(1); };
setTimeout(() => fail("timeout"), 20000);

function makeSocket(auth) {
  const socket = io(URL, { autoConnect: false, transports: ["websocket"], reconnection: false });
  socket.auth = auth;
  return socket;
}

function login(auth) {
  return new Promise((resolve, reject) => {
    const socket = makeSocket(auth);
    const state = { socket, users: null, session: null };
    socket.on("connect_error", (err) => reject(err));
    socket.on("session", ({ sessionID, userID }) => {
      socket.auth = { sessionID }; // as the tutorial: every later connection uses it
      state.session = { sessionID, userID };
    });
    socket.on("users", (users) => {
      state.users = users;
      if (state.session) resolve(state);
    });
    socket.connect();
  });
}

(async () => {
  // 1. an empty username is refused with the tutorial's message
  try {
    await login({ username: "" });
    fail("empty username was accepted");
  } catch (err) {
    out("refused", { message: err.message, data: err.data });
  }
  // 2. first login
  const me = await login({ username: "js-alice" });
  out("ready", { ...me.session, self: me.users.find((u) => u.userID === me.session.userID) });
  // 3. wait for the python peer, then write to it without an ack
  const peer = await new Promise((resolve) => {
    me.socket.on("user connected", (user) => { if (user.username === PEER_NAME) resolve(user); });
  });
  const reply = new Promise((resolve) => me.socket.on("private message", resolve));
  me.socket.emit("private message", { content: "hello from js", to: peer.userID });
  out("sent", { to: peer.userID });
  out("got", { message: await reply });
  // 4. a page reload: a new socket with the stored sessionID
  me.socket.disconnect();
  const again = await login({ sessionID: me.session.sessionID });
  out("reloaded", { ...again.session, users: again.users });
  again.socket.disconnect();
  process.exit(0);
})().catch(fail);
