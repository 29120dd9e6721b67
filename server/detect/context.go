package detect

import (
	"strings"

	"lachan/internal/event"
)

// winContext names, for each ECS field of an alert, the Windows event
// fields that may hold it, the Security log's name after Sysmon's where
// they differ (4688's NewProcessName is Sysmon's Image, and its ProcessId
// is the parent's). The first one present wins.
var winContext = []struct {
	ecs  string
	from []string
}{
	{"process.executable", []string{"NewProcessName", "Image", "ProcessName", "Application", "SourceImage"}},
	{"process.command_line", []string{"CommandLine"}},
	{"process.pid", []string{"NewProcessId", "ProcessId", "SourceProcessId"}},
	{"process.entity_id", []string{"ProcessGuid", "SourceProcessGuid"}},
	{"process.parent.executable", []string{"ParentProcessName", "ParentImage"}},
	{"process.parent.command_line", []string{"ParentCommandLine"}},
	{"process.parent.entity_id", []string{"ParentProcessGuid"}},
	{"user.name", []string{"SubjectUserName", "User", "UserName", "AccountName"}},
	{"user.domain", []string{"SubjectDomainName"}},
	{"user.id", []string{"SubjectUserSid", "Security_UserID"}},
	{"user.target.name", []string{"TargetUserName"}},
	{"file.path", []string{"TargetFilename", "FileName", "ObjectName"}},
	{"winlog.channel", []string{"Channel"}},
	{"winlog.record_id", []string{"EventRecordID"}},
	{"winlog.computer_name", []string{"Computer"}},
	{"winlog.provider_name", []string{"Provider_Name"}},
	{"event.code", []string{"event.code", "EventID"}},
}

// setWindowsContext gives an alert on a Windows event the ECS context of
// that event: who ran what, from which parent, in which log record.
func setWindowsContext(a *event.Event, ev event.Event) {
	if !strings.HasPrefix(ev.Dataset, "windows.") {
		return
	}
	for _, c := range winContext {
		for _, f := range c.from {
			v := ev.String(f)
			if v == "" || v == "-" {
				continue
			}
			if f == "ProcessId" && ev.String("NewProcessId") == "" && ev.String("NewProcessName") != "" {
				continue
			}
			a.Set(c.ecs, contextValue(c.ecs, ev.Fields[f], v))
			break
		}
	}
	if ev.String("NewProcessName") != "" {
		// 4688: the creator's ID is the parent's.
		if v := ev.String("ProcessId"); v != "" {
			a.Set("process.parent.pid", v)
		}
	} else if v, ok := ev.Fields["ParentProcessId"]; ok {
		a.Set("process.parent.pid", v)
	}
	// Sysmon writes DOMAIN\user in one field.
	if name := a.String("user.name"); strings.Contains(name, `\`) && a.String("user.domain") == "" {
		dom, user, _ := strings.Cut(name, `\`)
		a.Set("user.domain", dom)
		a.Set("user.name", user)
	}
	for _, exe := range []string{"process", "process.parent"} {
		if p := a.String(exe + ".executable"); p != "" {
			a.Set(exe+".name", p[strings.LastIndexAny(p, `\/`)+1:])
		}
	}
	if a.String("file.path") != "" && ev.String("ObjectType") != "" && ev.String("ObjectType") != "File" {
		a.Set("file.path", nil) // 4663 and 4657 name registry keys too
	}
}

func contextValue(ecs string, raw any, s string) any {
	if ecs == "winlog.record_id" || ecs == "event.code" {
		return s
	}
	return raw
}
