// The real Wechaty puppet service for GroupGuard's integration tests.
//
// wechaty-puppet-service's PuppetServer (the same code as the `wechaty` gateway
// image) serving wechaty-puppet-mock's PuppetMock, with no WeChat account.
// A loopback HTTP control channel lets the test drive the "account" and see
// what the bot did.
//
//   node gateway.mjs --port 8788 --control 8789 --token T [--tls] [--authority-shim]
//
// --tls             serve gRPC with TLS (python-wechaty cannot talk to it)
// --authority-shim  keep the server's compatibility patch that accepts the token
//                   as the HTTP/2 :authority (marked for removal upstream); by
//                   default it is removed, so only `authorization: Wechaty <token>`
//                   metadata is accepted
//
// Prints one line `LISTENING grpc=<port> control=<port>` on stdout when ready.
//
// Control channel (JSON in, JSON out):
//   GET  /state                      what happened so far (see state() below)
//   POST /login   {id, name}         create the bot's contact (once) and log it in
//   POST /contact {id, name}         create a contact
//   POST /room    {id, topic, owner, admins, members: {id: roomAlias}}
//                                    a room; the logged-in bot is always a member
//   POST /say     {talker, room | to, text, mentions}   -> {messageId}
//   POST /logout  {}                 the account logs out (as a phone would)
//
// Added around the mock (PLATFORMS.md: what PuppetMock lacks):
//   roomDel removes the member and emits room-leave; messageSendText returns the
//   id of the message it creates; room members carry their room alias (群昵称);
//   after a puppet stop/start the account logs back in by itself, as a puppet
//   with a saved session does (so a client's Stop shows up as logout + login).

import http from 'node:http'
import process from 'node:process'

import { grpc } from 'wechaty-grpc'

function option (name, fallback) {
  const index = process.argv.indexOf('--' + name)
  if (index > 0 && index + 1 < process.argv.length) {
    return process.argv[index + 1]
  }
  return process.env['GATEWAY_' + name.toUpperCase()] ?? fallback
}

const flag = name => process.argv.includes('--' + name)

const PORT = Number(option('port', '8788'))
const CONTROL = Number(option('control', String(PORT + 1)))
const TOKEN = option('token', '')
const TLS = flag('tls')
const AUTHORITY_SHIM = flag('authority-shim')

if (!TOKEN) {
  console.error('gateway: --token is required')
  process.exit(2)
}

const started = Date.now()
const rpcs = []   // {path, auth: 'metadata' | 'authority' | 'none', at}
const events = [] // {name, at, ...}
const sent = []   // {conversationId, text, mentionIds, id}
const removed = [] // {roomId, contactId}
const counts = { logins: 0, logouts: 0, starts: 0, stops: 0, dings: 0 }
const now = () => Date.now() - started

// Record every incoming call with how its token arrived: the server turns the
// HTTP/2 headers into metadata here (before its own :authority patch runs).
const fromHttp2Headers = grpc.Metadata.fromHttp2Headers
function recordingFromHttp2Headers (headers) {
  const metadata = fromHttp2Headers.call(grpc.Metadata, headers)
  const auth = metadata.get('authorization').length > 0
    ? 'metadata'
    : headers[':authority'] ? 'authority' : 'none'
  rpcs.push({ path: String(headers[':path'] || ''), auth, at: now() })
  return metadata
}
grpc.Metadata.fromHttp2Headers = recordingFromHttp2Headers

// Imported after the patch above, so the server's own patch wraps ours.
const { PuppetServer } = await import('wechaty-puppet-service')
const { PuppetMock } = await import('wechaty-puppet-mock')

if (!AUTHORITY_SHIM) {
  grpc.Metadata.fromHttp2Headers = recordingFromHttp2Headers // drop the :authority shim
}

const puppet = new PuppetMock()
const mocker = puppet.mocker
const aliases = new Map() // roomId -> Map(memberId -> room alias)
let account = null // {id, name}: logged back in after a puppet restart

for (const name of ['login', 'logout', 'ready', 'dong']) {
  puppet.on(name, payload => {
    if (name === 'login') counts.logins++
    if (name === 'logout') counts.logouts++
    events.push({ name, at: now(), contactId: payload?.contactId })
  })
}
puppet.on('error', error => events.push({ name: 'error', at: now(), error: String(error?.message ?? error) }))

const originalStart = puppet.start.bind(puppet)
const originalStop = puppet.stop.bind(puppet)
puppet.start = async () => {
  counts.starts++
  await originalStart()
  if (account && !puppet.isLoggedIn) {
    setTimeout(() => { if (!puppet.isLoggedIn) puppet.login(account.id) }, 50)
  }
}
puppet.stop = async () => {
  counts.stops++
  await originalStop()
}
const originalDing = puppet.ding.bind(puppet)
puppet.ding = data => { counts.dings++; return originalDing(data) }

puppet.roomDel = async (roomId, contactId) => {
  const payload = mocker.roomPayload(roomId)
  const index = payload.memberIdList.indexOf(contactId)
  if (index < 0) throw new Error(`${contactId} is not in ${roomId}`)
  payload.memberIdList.splice(index, 1)
  removed.push({ roomId, contactId, at: now() })
  puppet.emit('room-leave', {
    removeeIdList: [contactId],
    removerId: puppet.currentUserId,
    roomId,
    timestamp: Date.now(),
  })
}

puppet.messageSendText = async (conversationId, text, mentionIdList) => {
  if (!puppet.isLoggedIn) throw new Error('not logged in')
  const payload = {
    id: `sent-${sent.length + 1}-${Date.now()}`,
    talkerId: puppet.currentUserId,
    text,
    timestamp: Date.now(),
    type: 7, // Text, in the TypeScript numbering
  }
  if (conversationId.includes('@')) {
    Object.assign(payload, { roomId: conversationId, mentionIdList: mentionIdList ?? [] })
  } else {
    payload.listenerId = conversationId
  }
  const message = mocker.MessageMock.create(payload)
  sent.push({ conversationId, text, mentionIds: mentionIdList ?? [], id: message.id, at: now() })
  puppet.emit('message', { messageId: message.id })
  return message.id
}

const originalMemberRaw = puppet.roomMemberRawPayload.bind(puppet)
puppet.roomMemberRawPayload = async (roomId, contactId) => {
  const raw = await originalMemberRaw(roomId, contactId)
  const alias = aliases.get(roomId)?.get(contactId)
  return alias ? { ...raw, roomAlias: alias } : raw
}

function contact (id, name) {
  try {
    return mocker.ContactMock.load(id)
  } catch {
    return mocker.createContact({ id, name: name ?? id })
  }
}

function state () {
  return {
    loggedIn: puppet.isLoggedIn,
    userId: puppet.isLoggedIn ? puppet.currentUserId : null,
    ...counts,
    rpcs,
    events,
    sent,
    removed,
  }
}

const commands = {
  login ({ id, name }) {
    contact(id, name)
    account = { id, name }
    if (!puppet.isLoggedIn) mocker.login(mocker.ContactMock.load(id))
    return { userId: id }
  },
  contact ({ id, name }) {
    contact(id, name)
    return { id }
  },
  room ({ id, topic, owner, admins, members }) {
    const memberIds = Object.keys(members ?? {})
    for (const memberId of memberIds) contact(memberId)
    const self = puppet.isLoggedIn ? puppet.currentUserId : account?.id
    if (self && !memberIds.includes(self)) memberIds.unshift(self)
    aliases.set(id, new Map(Object.entries(members ?? {}).filter(([, alias]) => alias)))
    mocker.createRoom({
      id,
      topic: topic ?? id,
      ownerId: owner ?? self,
      adminIdList: admins ?? [],
      memberIdList: memberIds,
    })
    return { id, memberIdList: memberIds }
  },
  say ({ talker, room, to, text, mentions }) {
    const speaker = contact(talker)
    const conversation = room ? mocker.RoomMock.load(room) : contact(to)
    const before = new Set(mocker.cacheMessagePayload.keys())
    speaker.say(text, (mentions ?? []).map(id => contact(id))).to(conversation)
    const messageId = [...mocker.cacheMessagePayload.keys()].find(key => !before.has(key))
    return { messageId }
  },
  async logout () {
    account = null
    await puppet.logout('logged out on the phone')
    return {}
  },
}

const control = http.createServer((request, response) => {
  let body = ''
  request.on('data', chunk => { body += chunk })
  request.on('end', async () => {
    const name = request.url.replace(/^\//, '')
    try {
      let result
      if (request.method === 'GET' && name === 'state') {
        result = state()
      } else if (request.method === 'POST' && name in commands) {
        result = await commands[name](body ? JSON.parse(body) : {})
      } else {
        response.writeHead(404, { 'content-type': 'application/json' })
        response.end(JSON.stringify({ error: `no command ${request.method} /${name}` }))
        return
      }
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify(result ?? {}))
    } catch (error) {
      response.writeHead(500, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ error: String(error?.stack ?? error) }))
    }
  })
})

const server = new PuppetServer({
  endpoint: `127.0.0.1:${PORT}`,
  puppet,
  token: TOKEN,
  tls: { disable: !TLS },
})

await puppet.start()
await server.start()
await new Promise((resolve, reject) => {
  control.once('error', reject)
  control.listen(CONTROL, '127.0.0.1', resolve)
})
console.log(`LISTENING grpc=${PORT} control=${CONTROL}`)

async function shutdown () {
  control.close()
  await server.stop().catch(() => {})
  process.exit(0)
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
