-- tests/milter/send.lua - one SMTP transaction through miltertest(8) to the
-- milter on $MT_SOCK: connect (with {daemon_name} = $MT_DAEMON when set),
-- HELO, MAIL FROM:<$MT_FROM> (with {auth_authen} = $MT_AUTH when set), RCPT
-- TO for each address of $MT_RCPTS (blank separated), then the message file
-- $MT_MSG header by header, then its body in 64 KB chunks, then end of
-- message. Every reply must be continue or accept, or the script fails;
-- it prints "replies: N continue/accept" at the end.
local sock = assert(os.getenv("MT_SOCK"), "MT_SOCK")
local msgfile = assert(os.getenv("MT_MSG"), "MT_MSG")
local n = 0

local function ok(conn, what)
  local r = mt.getreply(conn)
  if r ~= SMFIR_CONTINUE and r ~= SMFIR_ACCEPT then
    error(what .. ": reply " .. tostring(r) .. " is neither continue nor accept")
  end
  n = n + 1
end

local conn = mt.connect(sock, 50, 0.1)
if conn == nil then error("cannot connect to " .. sock) end
local daemon = os.getenv("MT_DAEMON")
if daemon and daemon ~= "" then
  mt.macro(conn, SMFIC_CONNECT, "{daemon_name}", daemon)
end
assert(mt.conninfo(conn, "client.test", "127.0.0.1") == nil, "conninfo")
ok(conn, "connect")
assert(mt.helo(conn, "client.test") == nil, "helo")
ok(conn, "helo")
local auth = os.getenv("MT_AUTH")
if auth and auth ~= "" then
  mt.macro(conn, SMFIC_MAIL, "{auth_authen}", auth, "i", "TESTQID")
else
  mt.macro(conn, SMFIC_MAIL, "i", "TESTQID")
end
assert(mt.mailfrom(conn, "<" .. (os.getenv("MT_FROM") or "") .. ">") == nil, "mailfrom")
ok(conn, "mail from")
for r in string.gmatch(os.getenv("MT_RCPTS") or "", "%S+") do
  assert(mt.rcptto(conn, "<" .. r .. ">") == nil, "rcptto")
  ok(conn, "rcpt to " .. r)
end

local f = assert(io.open(msgfile, "rb"))
local data = f:read("*a")
f:close()
local sep = string.find(data, "\r?\n\r?\n")
local head, body
if sep then
  local e = string.find(data, "\n", string.find(data, "\n", sep) + 1)
  head = string.sub(data, 1, sep)
  body = string.sub(data, e + 1)
else
  head, body = data, ""
end
local name, value
local function flush()
  if name then
    assert(mt.header(conn, name, value) == nil, "header")
    ok(conn, "header " .. name)
  end
  name = nil
end
for line in string.gmatch(head, "([^\n]*)\n?") do
  line = string.gsub(line, "\r$", "")
  if string.match(line, "^[ \t]") and name then
    value = value .. "\r\n" .. line
  elseif line ~= "" then
    flush()
    name, value = string.match(line, "^([^:]+):[ \t]?(.*)$")
  end
end
flush()
assert(mt.eoh(conn) == nil, "eoh")
ok(conn, "end of headers")
body = string.gsub(body, "\r?\n", "\r\n")
local pos = 1
while pos <= #body do
  assert(mt.bodystring(conn, string.sub(body, pos, pos + 65534)) == nil, "body")
  ok(conn, "body")
  pos = pos + 65535
end
assert(mt.eom(conn) == nil, "eom")
ok(conn, "end of message")
mt.disconnect(conn)
print("replies: " .. n .. " continue/accept")
