//go:build tools

// Package seaweedfs pins the SeaweedFS server the S3 tests run against. `go install` refuses the
// module (its go.mod has a replace directive), so this wrapper module requires it and repeats
// that one replace; scripts/seaweedfs.sh builds github.com/seaweedfs/seaweedfs/weed from here.
package seaweedfs

import _ "github.com/seaweedfs/seaweedfs/weed"
