package winevent

import "strings"

// Export forms. Besides the nested rendering of the event XML, Windows
// events reach us as flat JSON objects from three kinds of shipper:
//
//   - flat renderings that keep the System names (EventID, Channel,
//     Computer, TimeCreated, EventRecordID) beside the EventData members;
//   - NXLog's im_msvistalog (EventTime, Hostname, SourceName, RecordNumber,
//     ProcessID, ThreadID, UserID, and the EventData members at the top);
//   - Winlogbeat (ECS at the top, @timestamp, and the record under winlog:
//     winlog.channel, winlog.event_id, winlog.computer_name,
//     winlog.record_id, winlog.event_data.*), nested or with dotted keys.
//
// All of them become the same fields, those of the nested form, so that a
// rule matches an event whichever way it was exported.

// flatAliases name the System member a shipper's own name stands for in
// the flat forms. The shipper's name is kept too, since a rule or an
// analyst may know the event by it.
var flatAliases = map[string]string{
	"Hostname":      "Computer",
	"SourceName":    "Provider_Name",
	"ProviderName":  "Provider_Name",
	"ProviderGuid":  "Provider_Guid",
	"RecordNumber":  "EventRecordID",
	"ProcessID":     "Execution_ProcessID",
	"ThreadID":      "Execution_ThreadID",
	"UserID":        "Security_UserID",
	"ActivityID":    "Correlation_ActivityID",
	"EventRecordId": "EventRecordID",
	"event_id":      "EventID",
	"channel":       "Channel",
	"computer_name": "Computer",
}

// timeKeys are the members that may hold an event's time in a flat form,
// most trusted first: the record's own creation time, then a time with a
// zone (@timestamp) before NXLog's EventTime, which is the shipper's local
// time without one, and a reception time last.
var timeKeys = []string{"TimeCreated_SystemTime", "TimeCreated", "SystemTime", "@timestamp", "EventTime", "UtcTime", "EventReceivedTime"}

// knownChannels spell the channels exporters write in their own case
// (NXLog and some datasets write "security") the way Windows does.
var knownChannels = map[string]string{}

func init() {
	for _, c := range []string{
		"Security", "System", "Application", "Setup", "Windows PowerShell",
		"Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-PowerShell/Operational",
		"PowerShellCore/Operational", "Microsoft-Windows-TaskScheduler/Operational",
		"Microsoft-Windows-WMI-Activity/Operational", "Microsoft-Windows-Windows Defender/Operational",
		"Microsoft-Windows-Bits-Client/Operational", "Microsoft-Windows-CodeIntegrity/Operational",
		"Microsoft-Windows-DNS-Client/Operational", "Microsoft-Windows-NTLM/Operational",
		"Microsoft-Windows-Windows Firewall With Advanced Security/Firewall",
		"Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
		"Microsoft-Windows-AppLocker/EXE and DLL", "Microsoft-Windows-AppLocker/MSI and Script",
		"Microsoft-Windows-PrintService/Operational", "Microsoft-Windows-PrintService/Admin",
		"Microsoft-Windows-SMBClient/Security", "Microsoft-Windows-Shell-Core/Operational",
		"Microsoft-Windows-LSA/Operational", "OpenSSH/Operational", "DNS Server",
	} {
		knownChannels[strings.ToLower(c)] = c
		knownDatasets[c] = datasetFor(c)
	}
}

// knownDatasets are the datasets of the known channels, made once: a
// log's events name a few channels over and over.
var knownDatasets = map[string]string{}

// canonicalChannel spells a known channel as Windows does; others are
// kept as they came.
func canonicalChannel(c string) string {
	if _, ok := knownDatasets[c]; ok {
		return c // spelt as Windows spells it already
	}
	if k, ok := knownChannels[strings.ToLower(strings.TrimSpace(c))]; ok {
		return k
	}
	return c
}

// isBeat tells a Winlogbeat document: a winlog object, or dotted
// winlog.* keys.
func isBeat(obj map[string]any) bool {
	if _, ok := obj["winlog"].(map[string]any); ok {
		return true
	}
	_, ok := obj["winlog.channel"]
	return ok
}

// undot nests dotted keys ("winlog.event_data.Image") as objects, the way
// Winlogbeat documents look when not exported flat.
func undot(obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		parts := strings.Split(k, ".")
		if len(parts) == 1 || k == "@timestamp" {
			if m, ok := out[k].(map[string]any); ok {
				if vm, ok := v.(map[string]any); ok {
					for kk, vv := range vm {
						m[kk] = vv
					}
					continue
				}
			}
			out[k] = v
			continue
		}
		m := out
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = v
	}
	return out
}

// beatNames map winlog members onto the System names.
var beatNames = map[string]string{
	"channel": "Channel", "event_id": "EventID", "computer_name": "Computer", "record_id": "EventRecordID",
	"provider_name": "Provider_Name", "provider_guid": "Provider_Guid", "version": "Version", "task": "Task",
	"opcode": "Opcode", "keywords": "Keywords", "activity_id": "Correlation_ActivityID",
	"related_activity_id": "Correlation_RelatedActivityID", "time_created": "TimeCreated_SystemTime",
}

// beatFields maps a Winlogbeat document. Only the record is kept: the
// shipper's ECS members (agent, host, ecs, log) describe the shipper, and
// the platform stamps its own.
func beatFields(obj map[string]any, fields map[string]any) {
	obj = undot(obj)
	wl, _ := obj["winlog"].(map[string]any)
	for k, v := range wl {
		if name, ok := beatNames[k]; ok {
			putValue(fields, name, v)
			continue
		}
		switch k {
		case "event_data", "user_data":
			flattenData(v, fields)
		case "process":
			p, _ := v.(map[string]any)
			putValue(fields, "Execution_ProcessID", p["pid"])
			if th, ok := p["thread"].(map[string]any); ok {
				putValue(fields, "Execution_ThreadID", th["id"])
			}
		case "user":
			if u, ok := v.(map[string]any); ok {
				putValue(fields, "Security_UserID", u["identifier"])
			}
		}
	}
	ev, _ := obj["event"].(map[string]any)
	host, _ := obj["host"].(map[string]any)
	fallback := map[string]any{"EventID": ev["code"], "Computer": host["name"], "TimeCreated_SystemTime": obj["@timestamp"], "Message": obj["message"]}
	for k, v := range fallback {
		if _, ok := fields[k]; !ok {
			putValue(fields, k, v)
		}
	}
}

// flatFields maps a flat rendering or an NXLog record: every member under
// its own name, nested objects joined by "_", and the shipper's names of
// System members aliased (flatAliases).
func flatFields(obj map[string]any, fields map[string]any) {
	for k, v := range obj {
		switch k {
		case "EventData", "UserData":
			flattenData(v, fields)
			continue
		case "#attributes", "@timestamp", "@version":
			continue
		}
		flattenSystem("", map[string]any{k: v}, fields)
	}
	for from, to := range flatAliases {
		if _, ok := fields[to]; ok {
			continue
		}
		if v, ok := obj[from]; ok {
			if _, isMap := v.(map[string]any); !isMap {
				putValue(fields, to, v)
			}
		}
	}
	if _, ok := fields["TimeCreated_SystemTime"]; !ok {
		for _, k := range timeKeys {
			if v, ok := obj[k]; ok {
				putValue(fields, "TimeCreated_SystemTime", v)
				break
			}
		}
	}
}
