// Command cdi-crds prints the CRDs CDI's operator installs for the kinds ferry uses (DataVolume),
// exactly as CDI ships them.
package main

import (
	"fmt"
	"os"

	"kubevirt.io/containerized-data-importer/pkg/operator/resources"
)

func main() {
	for _, name := range []string{"datavolume"} {
		crd, ok := resources.CDICRDs[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "CDI has no CRD %q\n", name)
			os.Exit(1)
		}
		fmt.Printf("---\n%s", crd)
	}
}
