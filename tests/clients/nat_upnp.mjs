// nat-upnp (npm), an IGD:1-only client: M-SEARCH for InternetGatewayDevice:1, the first answer
// wins, and the description must offer WANIPConnection:1 (or WANPPPConnection:1). It sends no
// User-Agent. Usage: node nat_upnp.mjs <this host's LAN address>; commands on stdin (session.mjs):
//   find | ip | map <internal port> <external port> <TCP|UDP> <lease s> | unmap <external port> <TCP|UDP> | list
import { createRequire } from 'node:module'
import { serve } from './session.mjs'

const natUpnp = createRequire(import.meta.url)('nat-upnp')
const [localHost] = process.argv.slice(2)
const client = natUpnp.createClient()
client.timeout = 5000

const call = (method, ...args) => new Promise((resolve, reject) => {
  client[method](...args, (error, ...results) => error ? reject(error) : resolve(results))
})

await serve({
  find: async () => {
    const [gateway] = await call('findGateway')
    return gateway.description
  },
  ip: async () => (await call('externalIp'))[0],
  map: async (internal, external, protocol, ttl) => {
    await call('portMapping', {
      public: Number(external),
      private: { host: localHost, port: Number(internal) },
      protocol,
      description: 'nat-upnp',
      ttl: Number(ttl)
    })
  },
  unmap: async (external, protocol) => {
    await call('portUnmapping', { public: Number(external), protocol })
  },
  list: async () => (await call('getMappings'))[0].map((mapping) => ({
    externalPort: mapping.public.port,
    internalHost: mapping.private.host,
    internalPort: mapping.private.port,
    protocol: mapping.protocol.toUpperCase(),
    description: mapping.description
  })),
  close: () => client.close()
})
