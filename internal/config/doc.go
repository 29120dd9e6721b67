// Package config is the one loader both binaries use: a YAML file, LACHAN_*
// environment variables and command-line flags, merged with viper in that
// order of precedence (flags win) over the defaults the caller passes in,
// then decoded strictly, so that an unknown or misspelt key stops start-up
// with its name.
package config
