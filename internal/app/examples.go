package app

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// examples are each command's examples in --help (issue 26): what a
// newcomer would type first. TestEveryCommandHasExamples keeps the table
// complete.
var examples = map[string][]string{
	"install": {
		"slurm-installer install --mirrors http://apphub.example/ --strict",
		"slurm-installer install --root /mnt/img --mirrors oci://registry.example/hpc/slurm-client --slurm-version 23.11",
		"slurm-installer install --mirrors http://apphub.example/ --dry-run   # resolve everything, download no bundle",
	},
	"fetch": {
		"slurm-installer fetch --mirrors http://apphub.example/ --arch x86_64 --out bundles/",
		"slurm-installer fetch --mirrors http://apphub.example/ --cache-dir /var/cache/slurm-installer",
	},
	"list": {
		"slurm-installer list --mirrors http://apphub.example/",
		"slurm-installer list --mirrors oci://registry.example/hpc/slurm-client --json",
		"slurm-installer list --mirrors http://apphub.example/ --root /mnt/alpine   # which bundles can run there",
	},
	"verify": {
		"slurm-installer verify",
		"slurm-installer verify --root /mnt/img --deep --json",
	},
	"connect": {
		"slurm-installer connect --controller slurmctld.example:6817   # at container start, /run/munge mounted",
		"slurm-installer connect --controller slurmctld.example --conf-url http://apphub.example/site/slurm.conf",
		"SLURM_INSTALLER_CONTROLLER=slurmctld.example slurm-installer connect --json",
	},
	"status": {
		"slurm-installer status",
		"slurm-installer status --root /mnt/img --json",
	},
	"uninstall": {
		"slurm-installer uninstall --root /mnt/img",
	},
	"pack": {
		"slurm-installer pack --from /usr/local/slurm --slurm-version 23.11.4 --arch x86_64 --out apphub/",
		"slurm-installer pack --from /usr/local/slurm --slurm-version 23.11.4 --arch x86_64 --self-contained --out apphub/",
		"slurm-installer pack --from /usr/local/slurm --slurm-version 23.11.4 --arch x86_64 --out oci://registry.example/hpc/slurm-client",
	},
	"version": {
		"slurm-installer version",
	},
	"completion": {
		"source <(slurm-installer completion bash)",
		"slurm-installer completion fish | source",
	},
}

// addExamples appends a command's examples to its description.
func addExamples(c *cli.Command) {
	ex := examples[c.Name]
	if len(ex) == 0 {
		return
	}
	d := c.Description
	if d != "" {
		d += "\n\n"
	}
	c.Description = d + "Examples:\n   " + strings.Join(ex, "\n   ")
}
