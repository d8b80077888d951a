// The Go oracle: golang.org/x/mod/semver orders and decomposes module versions.
//
// Usage: go run main.go INPUT... > expected/go.tsv — see recipe.sh for the columns.
package main

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strings"

	"golang.org/x/mod/semver"
)

func main() {
	var versions []string
	seen := map[string]bool{}
	for _, path := range os.Args[1:] {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		scanner := bufio.NewScanner(f)
		for scanner.Scan() {
			s := strings.TrimSpace(scanner.Text())
			if s == "" || strings.HasPrefix(s, "#") || seen[s] || !semver.IsValid(s) {
				continue
			}
			seen[s] = true
			versions = append(versions, s)
		}
		f.Close()
	}
	sort.Slice(versions, func(i, j int) bool {
		if c := semver.Compare(versions[i], versions[j]); c != 0 {
			return c < 0
		}
		return versions[i] < versions[j]
	})
	fmt.Println("# golang.org/x/mod/semver " + os.Getenv("X_MOD_VERSION"))
	fmt.Println("version\trank\tepoch\trelease\tprerelease\tpost")
	rank := -1
	for i, v := range versions {
		if i == 0 || semver.Compare(versions[i-1], v) != 0 {
			rank++
		}
		release := strings.TrimPrefix(strings.SplitN(semver.Canonical(v), "-", 2)[0], "v")
		fmt.Printf("%s\t%d\t0\t%s\t%t\t-\n", v, rank, release, semver.Prerelease(v) != "")
	}
}
