// @achingbrain/nat-port-mapper (npm; libp2p's), an IGD:2-only client: M-SEARCH for
// InternetGatewayDevice:2, AddAnyPortMapping on WANIPConnection:2, and DeletePortMapping with an
// empty NewProtocol for every mapping of a local port. Mappings live in this process, so one
// session maps and unmaps. Usage: node nat_port_mapper.mjs <this host's LAN address>; commands:
//   find | ip | map <local port> <TCP|UDP> | unmap <local port>
import { upnpNat } from '@achingbrain/nat-port-mapper'
import { serve } from './session.mjs'

const [localHost] = process.argv.slice(2)
const client = upnpNat({ description: 'nat-port-mapper', autoRefresh: false })
let gateway

async function found () {
  if (gateway === undefined) {
    for await (const each of client.findGateways({ signal: AbortSignal.timeout(10000) })) {
      gateway = each
      break
    }
    if (gateway === undefined) throw new Error('no IGD:2 gateway found')
  }
  return gateway
}

await serve({
  find: async () => {
    const each = await found()
    return each.gateway.service.location.toString()
  },
  ip: async () => (await found()).externalIp(),
  map: async (local, protocol) => {
    const mapping = await (await found()).map(Number(local), localHost, { protocol })
    return mapping.externalPort
  },
  unmap: async (local) => { await (await found()).unmap(Number(local)) }
})
