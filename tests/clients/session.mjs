// The line protocol every client script speaks, so the tests drive each library the same way.
// stdin: one command a line, words separated by spaces; stdout: one JSON object a line,
// {"ok": <result>} or {"error": "<message>"}. "quit" (or the end of stdin) ends the script.
import { createInterface } from 'node:readline'

export async function serve (commands) {
  const lines = createInterface({ input: process.stdin })
  for await (const line of lines) {
    const [name, ...args] = line.trim().split(/\s+/)
    if (name === '' || name === undefined) continue
    if (name === 'quit') break
    const command = commands[name]
    try {
      if (command === undefined) throw new Error(`unknown command ${name}`)
      const result = await command(...args)
      console.log(JSON.stringify({ ok: result ?? null }))
    } catch (error) {
      console.log(JSON.stringify({ error: String(error?.message ?? error) }))
    }
  }
  if (commands.close) await commands.close()
  process.exit(0)
}
