// Command goupnp_igd2 drives Go's github.com/huin/goupnp as an IGD:2-only client, with the line
// protocol of ../session.mjs: stdin one command a line, stdout one JSON object a line,
// {"ok": <result>} or {"error": "<message>"}; "quit" or the end of stdin ends it.
//
// It finds the gateway the way goupnp's users do, internetgateway2.NewWANIPConnection2Clients
// (an SSDP search for the WANIPConnection:2 service type), maps with AddAnyPortMapping, deletes
// with DeletePortMapping and lists with GetGenericPortMappingEntry. It uses only API that both
// Debian's goupnp 0.0~git20171001 (bookworm) and goupnp 1.3 (trixie) have.
//
// Usage: goupnp_igd2 <this host's LAN address>; commands:
//
//	find | ip | map <internal port> <external port> <TCP|UDP> <lease s> |
//	unmap <external port> <TCP|UDP> | list
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/huin/goupnp/dcps/internetgateway2"
)

// mapping is one entry of the "list" answer, named as the other client scripts name it.
type mapping struct {
	Protocol     string `json:"protocol"`
	ExternalPort uint16 `json:"externalPort"`
	InternalHost string `json:"internalHost"`
	InternalPort uint16 `json:"internalPort"`
	Description  string `json:"description"`
}

// driver holds what the first command found, so later ones reuse it as a goupnp user would.
type driver struct {
	localHost string
	found     []*internetgateway2.WANIPConnection2
}

// clients searches once; a device that answered the search but that goupnp could not use is
// an error, so a gateway face that wrongly claims WANIPConnection:2 shows.
func (d *driver) clients() ([]*internetgateway2.WANIPConnection2, error) {
	if d.found != nil {
		return d.found, nil
	}
	clients, deviceErrors, err := internetgateway2.NewWANIPConnection2Clients()
	if err != nil {
		return nil, err
	}
	if len(deviceErrors) > 0 {
		return nil, fmt.Errorf("unusable answers to the WANIPConnection:2 search: %v", deviceErrors)
	}
	if len(clients) == 0 {
		return nil, errors.New("no WANIPConnection:2 service found")
	}
	d.found = clients
	return clients, nil
}

func (d *driver) gateway() (*internetgateway2.WANIPConnection2, error) {
	clients, err := d.clients()
	if err != nil {
		return nil, err
	}
	return clients[0], nil
}

// find answers the description URL of every service the search found.
func (d *driver) find() (interface{}, error) {
	clients, err := d.clients()
	if err != nil {
		return nil, err
	}
	locations := make([]string, 0, len(clients))
	for _, client := range clients {
		locations = append(locations, client.Location.String())
	}
	return locations, nil
}

func (d *driver) ip() (interface{}, error) {
	gateway, err := d.gateway()
	if err != nil {
		return nil, err
	}
	return gateway.GetExternalIPAddress()
}

func (d *driver) add(internal, external, protocol, lease string) (interface{}, error) {
	gateway, err := d.gateway()
	if err != nil {
		return nil, err
	}
	internalPort, err := port(internal)
	if err != nil {
		return nil, err
	}
	externalPort, err := port(external)
	if err != nil {
		return nil, err
	}
	seconds, err := strconv.ParseUint(lease, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("bad lease %q: %v", lease, err)
	}
	return gateway.AddAnyPortMapping("", externalPort, protocol, internalPort, d.localHost,
		true, "goupnp", uint32(seconds))
}

func (d *driver) remove(external, protocol string) (interface{}, error) {
	gateway, err := d.gateway()
	if err != nil {
		return nil, err
	}
	externalPort, err := port(external)
	if err != nil {
		return nil, err
	}
	return nil, gateway.DeletePortMapping("", externalPort, protocol)
}

// list walks GetGenericPortMappingEntry from index 0 until the gateway refuses an index (713
// past the end). goupnp 0.0~git20171001 reports every SOAP fault as a bare "HTTP 500", so the
// walk cannot tell 713 from another refusal: it ends on the first error, and says which on
// stderr (a line the tests skip).
func (d *driver) list() (interface{}, error) {
	gateway, err := d.gateway()
	if err != nil {
		return nil, err
	}
	mappings := []mapping{}
	for index := 0; index <= 0xffff; index++ {
		_, external, protocol, internal, host, _, description, _, err :=
			gateway.GetGenericPortMappingEntry(uint16(index))
		if err != nil {
			fmt.Fprintf(os.Stderr, "list ends at index %d: %v\n", index, err)
			break
		}
		mappings = append(mappings, mapping{protocol, external, host, internal, description})
	}
	return mappings, nil
}

func port(word string) (uint16, error) {
	value, err := strconv.ParseUint(word, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("bad port %q: %v", word, err)
	}
	return uint16(value), nil
}

// run calls the command a line names, with the number of words it takes.
func (d *driver) run(name string, arguments []string) (interface{}, error) {
	want := map[string]int{"find": 0, "ip": 0, "map": 4, "unmap": 2, "list": 0}
	count, known := want[name]
	if !known {
		return nil, fmt.Errorf("unknown command %s", name)
	}
	if len(arguments) != count {
		return nil, fmt.Errorf("%s takes %d arguments, not %d", name, count, len(arguments))
	}
	switch name {
	case "find":
		return d.find()
	case "ip":
		return d.ip()
	case "map":
		return d.add(arguments[0], arguments[1], arguments[2], arguments[3])
	case "unmap":
		return d.remove(arguments[0], arguments[1])
	default:
		return d.list()
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: goupnp_igd2 <this host's LAN address>")
		os.Exit(2)
	}
	d := &driver{localHost: os.Args[1]}
	answers := json.NewEncoder(os.Stdout)
	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		words := strings.Fields(lines.Text())
		if len(words) == 0 {
			continue
		}
		if words[0] == "quit" {
			break
		}
		result, err := d.run(words[0], words[1:])
		answer := map[string]interface{}{"ok": result}
		if err != nil {
			answer = map[string]interface{}{"error": err.Error()}
		}
		if err := answers.Encode(answer); err != nil {
			os.Exit(1)
		}
	}
}
