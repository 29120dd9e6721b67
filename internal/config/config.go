package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"
)

// EnvPrefix starts every environment variable the loader reads.
const EnvPrefix = "LACHAN_"

// NonConfigEnv are LACHAN_* variables that are not configuration keys (they
// steer tests and tools) and so are not reported as unknown.
var NonConfigEnv = map[string]bool{
	"LACHAN_CONFIG": true, "LACHAN_ES_URL": true, "LACHAN_ES_USER": true, "LACHAN_ES_PASSWORD": true,
	"LACHAN_ES_API_KEY": true, "LACHAN_ES_CA": true, "LACHAN_OSQUERY_SOCKET": true, "LACHAN_SHARED_DATA": true,
	"LACHAN_TOKEN": true, "LACHAN_SERVER": true,
}

// Options say where configuration comes from.
type Options struct {
	// File is a YAML file; empty means none.
	File string
	// Flags are bound by name: a flag "data-dir" sets key "data_dir", a
	// flag "api.listen" sets "api.listen". Only flags the user set count.
	Flags *pflag.FlagSet
	// Environ is the environment to read (default os.Environ()).
	Environ []string
}

// Validator is implemented by configurations that check themselves.
type Validator interface{ Validate() error }

// Load fills dst, a pointer to a struct that already holds the defaults,
// from the sources in opts, and validates it.
func Load(dst any, opts Options) error {
	v := viper.New()
	defaults := Flatten(dst, false)
	for k, val := range defaults {
		v.SetDefault(k, val)
	}
	if opts.File != "" {
		v.SetConfigFile(opts.File)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("config file %s: %w", opts.File, err)
		}
	}
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	if err := applyEnv(v, defaults, environ); err != nil {
		return err
	}
	if err := applyFlags(v, defaults, opts.Flags); err != nil {
		return err
	}
	if err := checkKnown(v, defaults, opts.File); err != nil {
		return err
	}
	err := v.UnmarshalExact(dst, func(c *mapstructure.DecoderConfig) {
		c.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		)
	})
	if err != nil {
		where := "configuration"
		if opts.File != "" {
			where = "config file " + opts.File
		}
		return fmt.Errorf("%s: %s", where, oneLine(err))
	}
	if val, ok := dst.(Validator); ok {
		if err := val.Validate(); err != nil {
			return fmt.Errorf("invalid configuration: %w", err)
		}
	}
	return nil
}

func applyEnv(v *viper.Viper, known map[string]any, environ []string) error {
	byEnv := make(map[string]string, len(known))
	for k := range known {
		byEnv[EnvPrefix+strings.ToUpper(strings.NewReplacer(".", "_").Replace(k))] = k
	}
	var unknown []string
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || NonConfigEnv[name] {
			continue
		}
		key, ok := byEnv[name]
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		v.Set(key, val)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("unknown configuration environment variable(s): %s", strings.Join(unknown, ", "))
	}
	return nil
}

func applyFlags(v *viper.Viper, known map[string]any, fs *pflag.FlagSet) error {
	if fs == nil {
		return nil
	}
	fs.Visit(func(f *pflag.Flag) {
		key := strings.ReplaceAll(f.Name, "-", "_")
		if _, ok := known[key]; !ok {
			return // a flag that is not a configuration key (e.g. --json)
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			v.Set(key, sv.GetSlice())
			return
		}
		v.Set(key, f.Value.String())
	})
	return nil
}

// checkKnown names every key the sources set that the configuration lacks.
func checkKnown(v *viper.Viper, known map[string]any, file string) error {
	var unknown []string
	for _, k := range v.AllKeys() {
		if _, ok := known[k]; !ok && !inMap(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	where := "configuration"
	if file != "" {
		where = "config file " + file
	}
	return fmt.Errorf("%s: unknown key(s): %s", where, strings.Join(unknown, ", "))
}

// inMap reports whether key lies under a known key whose value is a map
// (detect.placeholders.NAME): a map's keys are the file's to choose.
func inMap(known map[string]any, key string) bool {
	for i := strings.LastIndexByte(key, '.'); i > 0; i = strings.LastIndexByte(key[:i], '.') {
		if v, ok := known[key[:i]]; ok {
			return v != nil && reflect.TypeOf(v).Kind() == reflect.Map
		}
	}
	return false
}

// Flatten lists a configuration struct's keys with their values, named by
// their mapstructure tags and joined with dots. With redact, fields tagged
// `secret:"true"` that are set read "(set)".
func Flatten(cfg any, redact bool) map[string]any {
	out := map[string]any{}
	flatten(reflect.ValueOf(cfg), "", redact, out)
	return out
}

var durationType = reflect.TypeOf(time.Duration(0))

func flatten(v reflect.Value, prefix string, redact bool, out map[string]any) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Tag.Get("mapstructure")
		if name == "" || name == "-" {
			continue
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct && fv.Type() != durationType {
			flatten(fv, key, redact, out)
			continue
		}
		val := fv.Interface()
		if fv.Type() == durationType {
			val = fv.Interface().(time.Duration).String()
		}
		if redact && f.Tag.Get("secret") == "true" && !fv.IsZero() {
			val = "(set)"
		}
		out[key] = val
	}
}

// Print writes the effective configuration as YAML, secrets redacted.
func Print(w io.Writer, cfg any) error {
	nested := map[string]any{}
	for k, val := range Flatten(cfg, true) {
		parts := strings.Split(k, ".")
		m := nested
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = val
	}
	b, err := yaml.Marshal(nested)
	if err != nil {
		return fmt.Errorf("print config: %w", err)
	}
	_, err = w.Write(b)
	return err
}

// Join runs Validate on each part and joins the errors.
func Join(parts ...Validator) error {
	var errs []error
	for _, p := range parts {
		if err := p.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// oneLine turns the decoder's multi-line report into one line that starts
// with the key at fault.
func oneLine(err error) string {
	var parts []string
	for _, l := range strings.Split(err.Error(), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "decoding failed due to") {
			continue
		}
		parts = append(parts, strings.TrimPrefix(l, "* "))
	}
	return strings.Join(parts, "; ")
}
