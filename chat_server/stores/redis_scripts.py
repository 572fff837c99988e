"""The Redis store's Lua scripts: each write is one script, atomic across processes."""

from __future__ import annotations

from typing import Final

# KEYS: user, users, names, session, user_sessions. ARGV: userID, username, name key,
# created, unique, session hash
CREATE_USER: Final = """
if ARGV[5] == '1' and tonumber(redis.call('HGET', KEYS[3], ARGV[3]) or '0') > 0 then
  return 'taken'
end
if redis.call('HSETNX', KEYS[1], 'username', ARGV[2]) == 0 then
  return 'idtaken'
end
redis.call('HSET', KEYS[1], 'created', ARGV[4])
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
redis.call('SET', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[5], ARGV[6], ARGV[4])
return 'ok'
"""

# How a script reads one stream entry of a conversation and the message's state: a Lua
# function shared by the scripts below. Returns {id, from, to, content, ts, clientId,
# editedAt, deleted, replyTo}, every item a string ('' for none; deleted '1' or '0').
# The content lives in the conversation's body hash, never in the stream (streams keep
# deleted entries' bytes): a message without a body is deleted.
_ROW: Final = """
local function row(entry, body, edited)
  local f = {}
  local fields = entry[2]
  for i = 1, #fields, 2 do f[fields[i]] = fields[i + 1] end
  local id = string.match(entry[1], '^(%d+)')
  local content = redis.call('HGET', body, id)
  local at = content and redis.call('HGET', edited, id) or false
  return {id, f['f'], f['t'], content or '', f['ts'], f['cid'] or '',
          at or '', content and '0' or '1', f['r'] or ''}
end
"""

# KEYS: msgid, conv, peers:from, peers:to, convs, idmarks, cid (or ""), msgcount, body,
# words, edited, last. ARGV: from, to, content, ts, clientId (or ""), minute, conv key, cid ttl
# (0: none), words (the search index's), replyTo (or ""), key prefix.
# Returns {created (0/1), then the row (see _ROW)}
SAVE_MESSAGE: Final = (
    _ROW
    + """
if ARGV[5] ~= '' then
  local found = redis.call('GET', KEYS[7])
  if found then
    local sp = string.find(found, ' ')
    local id = string.sub(found, 1, sp - 1)
    local conv = string.sub(found, sp + 1)
    local entry = redis.call('XRANGE', conv, id .. '-0', id .. '-0')
    if #entry == 1 then
      local tail = string.sub(conv, #ARGV[11] + 6)
      local r = row(entry[1], ARGV[11] .. 'body:' .. tail, ARGV[11] .. 'edited:' .. tail)
      table.insert(r, 1, 0)
      return r
    end
  end
end
local id = redis.call('INCR', KEYS[1])
redis.call('INCR', KEYS[8])
if ARGV[10] ~= '' then
  redis.call('XADD', KEYS[2], id .. '-0', 'f', ARGV[1], 't', ARGV[2], 'ts', ARGV[4],
             'cid', ARGV[5], 'r', ARGV[10])
else
  redis.call('XADD', KEYS[2], id .. '-0', 'f', ARGV[1], 't', ARGV[2], 'ts', ARGV[4],
             'cid', ARGV[5])
end
redis.call('HSET', KEYS[9], id, ARGV[3])
redis.call('HSET', KEYS[10], id, ARGV[9])
redis.call('HSET', KEYS[12], ARGV[1], id)
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[7])
redis.call('HSETNX', KEYS[6], ARGV[6], id)
if ARGV[5] ~= '' then
  if tonumber(ARGV[8]) > 0 then
    redis.call('SET', KEYS[7], id .. ' ' .. ARGV[7], 'EX', ARGV[8])
  else
    redis.call('SET', KEYS[7], id .. ' ' .. ARGV[7])
  end
end
return {1, tostring(id), ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], '', '0', ARGV[10]}
"""
)

# KEYS: conv, body, edited. ARGV: 'rev' start end count | 'fwd' start end count |
# 'ids' id... Returns the rows (see _ROW) in the order read.
READ: Final = (
    _ROW
    + """
local entries
if ARGV[1] == 'rev' then
  entries = redis.call('XREVRANGE', KEYS[1], ARGV[2], ARGV[3], 'COUNT', ARGV[4])
elseif ARGV[1] == 'fwd' then
  entries = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[3], 'COUNT', ARGV[4])
else
  entries = {}
  for i = 2, #ARGV do
    local e = redis.call('XRANGE', KEYS[1], ARGV[i] .. '-0', ARGV[i] .. '-0')
    if #e == 1 then entries[#entries + 1] = e[1] end
  end
end
local out = {}
for i, entry in ipairs(entries) do out[i] = row(entry, KEYS[2], KEYS[3]) end
return out
"""
)

# KEYS: conv, body, words, edited. ARGV: id, user, then for an edit: content, words, at.
# An edit (ARGV[3] given) replaces the body and the words; a delete removes them.
# Returns {'none'} (no such message, or deleted for an edit), {'notyours'}, or
# {'ok' | 'already', the row (see _ROW)...}.
CHANGE: Final = (
    _ROW
    + """
local entry = redis.call('XRANGE', KEYS[1], ARGV[1] .. '-0', ARGV[1] .. '-0')
if #entry == 0 then return {'none'} end
local r = row(entry[1], KEYS[2], KEYS[4])
if r[2] ~= ARGV[2] then return {'notyours'} end
local status = 'ok'
if ARGV[3] then
  if r[8] == '1' then return {'none'} end
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
  redis.call('HSET', KEYS[4], ARGV[1], ARGV[5])
  r[4], r[7] = ARGV[3], ARGV[5]
elseif r[8] == '1' then
  status = 'already'
else
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  redis.call('HDEL', KEYS[4], ARGV[1])
  r[4], r[7], r[8] = '', '', '1'
end
table.insert(r, 1, status)
return r
"""
)

# KEYS: a conversation's words hash. ARGV: before (exclusive), limit, then the query
# words. The ids whose words include every query word (whole words);
# newest first, at most limit. A scan of the conversation, inside Redis.
SEARCH: Final = """
local before, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
local hits = {}
for i = 1, #all, 2 do
  local id = tonumber(all[i])
  if id < before then
    local words = ' ' .. all[i + 1] .. ' '
    local ok = true
    for q = 3, #ARGV do
      if not string.find(words, ' ' .. ARGV[q] .. ' ', 1, true) then ok = false break end
    end
    if ok then hits[#hits + 1] = id end
  end
end
table.sort(hits, function(a, b) return a > b end)
local out = {}
for i = 1, math.min(#hits, limit) do out[i] = tostring(hits[i]) end
return out
"""

# KEYS: conv, body, words, edited. ARGV: the first id to keep. Retention: every entry
# below it goes, with its body, words and edit time. Returns how many entries went.
TRIM: Final = """
local gone = redis.call('XRANGE', KEYS[1], '-', '(' .. ARGV[1] .. '-0')
for _, entry in ipairs(gone) do
  local id = string.match(entry[1], '^(%d+)')
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
end
redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1] .. '-0')
return #gone
"""

# KEYS: read (user's markers), receipt (user's public markers), the conversation stream
# ARGV: peer, up to, private ('1' or '0'), at (ms). Returns {marker or '', moved (0/1)}
MARK_READ: Final = """
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local current = redis.call('HGET', KEYS[1], ARGV[1])
if #last == 0 then
  return {current or '', 0}
end
local last_id = tonumber(string.match(last[1][1], '^(%d+)'))
local target = math.min(tonumber(ARGV[2]), last_id)
if current and target <= tonumber(current) then
  return {current, 0}
end
redis.call('HSET', KEYS[1], ARGV[1], target)
if ARGV[3] == '0' then
  redis.call('HSET', KEYS[2], ARGV[1], target .. ' ' .. ARGV[4])
end
return {tostring(target), 1}
"""

# KEYS: the conversation stream, its body hash, its last hash. ARGV: the peer, the marker
# (entries after it count), cap. Returns how many of the peer's messages (not deleted:
# they have a body) come after the marker (at most cap). The last hash holds each
# sender's latest id (SAVE_MESSAGE sets it); a conversation written before it existed
# learns it here, once, from the newest end of the stream. Nothing from the peer past the
# marker: no scan at all; else the scan stops at the peer's latest message.
COUNT_UNREAD: Final = """
local cap = tonumber(ARGV[3])
if cap == 0 then return 0 end
local function sender(entry)
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'f' then return fields[i + 1] end
  end
end
local last = redis.call('HGET', KEYS[3], ARGV[1])
if not last then
  last = '0'
  local before, seen = '+', false
  while last == '0' do
    local entries = redis.call('XREVRANGE', KEYS[1], before, '-', 'COUNT', 500)
    for _, entry in ipairs(entries) do
      seen = true
      if sender(entry) == ARGV[1] then
        last = string.match(entry[1], '^(%d+)')
        break
      end
      before = '(' .. entry[1]
    end
    if #entries < 500 then break end
  end
  -- an empty (or erased) conversation leaves no key behind
  if not seen then return 0 end
  redis.call('HSET', KEYS[3], ARGV[1], last)
end
if tonumber(last) <= tonumber(ARGV[2]) then return 0 end
local count, after = 0, ARGV[2] .. '-0'
while count < cap do
  local entries = redis.call('XRANGE', KEYS[1], '(' .. after, last .. '-0', 'COUNT', 500)
  for _, entry in ipairs(entries) do
    if sender(entry) == ARGV[1] and redis.call('HEXISTS', KEYS[2],
        string.match(entry[1], '^(%d+)')) == 1 then
      count = count + 1
    end
    after = entry[1]
  end
  if #entries < 500 then break end
end
return math.min(count, cap)
"""
