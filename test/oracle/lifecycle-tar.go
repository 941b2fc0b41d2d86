// lifecycle-tar writes one layer tar the way the reference lifecycle (buildpacks/lifecycle) does, with Go's own
// archive/tar, and prints "sha256:<hex> <size>" of the tar. It is a test oracle for src/layer/tar-*.ts, written
// from /work/notes/tar-rules.md (no code taken from the lifecycle). Standard library only.
//
// Usage:
//
//	go run test/oracle/lifecycle-tar.go -kind dir -disk D -image /layers/bp/l -uid N -gid N [-out F]
//	go run test/oracle/lifecycle-tar.go -kind app -disk D -image /workspace -uid N -gid N [-out F]
//	go run test/oracle/lifecycle-tar.go -kind launcher -disk FILE [-out F]
//	go run test/oracle/lifecycle-tar.go -kind process-types -types web,worker [-out F]
//
// dir: the parents of -image (each os.Stat'ed at the matching disk ancestor, real owner, outermost first, "/"
// excluded), then filepath.Walk of -disk (Lstat, sockets skipped) owned by -uid/-gid.
// app: the same parents, then every path under -disk including itself, sorted byte-wise by image path.
// launcher: /cnb, /cnb/lifecycle (dirs 0755 root) and /cnb/lifecycle/launcher (Stat of FILE, mode 0755, root).
// process-types: /cnb, /cnb/process, then /cnb/process/<type> symlinks to /cnb/lifecycle/launcher, mode 0755.
// Every header is normalised: ModTime 1980-01-01T00:00:01Z, Uname/Gname "", Format unset (so Go zeroes
// AccessTime/ChangeTime and picks USTAR, else PAX). The archive ends with tw.Close() (two zero blocks).
package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

var normalizedModTime = time.Date(1980, time.January, 1, 0, 0, 1, 0, time.UTC)

// countingWriter counts the bytes written through it.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// layerWriter wraps tar.Writer with the normalisation the lifecycle applies to every header.
type layerWriter struct {
	tw    *tar.Writer
	owner *[2]int // uid, gid applied once set (after the parents)
}

func (w *layerWriter) writeHeader(h *tar.Header) error {
	h.ModTime = normalizedModTime
	h.Uname = ""
	h.Gname = ""
	h.AccessTime = time.Time{}
	h.ChangeTime = time.Time{}
	if w.owner != nil {
		h.Uid = w.owner[0]
		h.Gid = w.owner[1]
	}
	return w.tw.WriteHeader(h)
}

// addFile writes one file system entry named name in the image, from diskPath with its FileInfo fi.
func (w *layerWriter) addFile(name, diskPath string, fi os.FileInfo) error {
	if fi.Mode()&os.ModeSocket != 0 {
		return nil
	}
	hdr, err := tar.FileInfoHeader(fi, "")
	if err != nil {
		return err
	}
	hdr.Name = name
	if fi.Mode()&os.ModeSymlink != 0 {
		if hdr.Linkname, err = os.Readlink(diskPath); err != nil {
			return err
		}
	}
	if err := w.writeHeader(hdr); err != nil {
		return err
	}
	if fi.Mode().IsRegular() {
		f, err := os.Open(diskPath)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.Copy(w.tw, f); err != nil {
			return err
		}
	}
	return nil
}

// imagePathOf maps a disk path under diskRoot to its name in the image under imageRoot.
func imagePathOf(diskRoot, imageRoot, p string) string {
	rel, err := filepath.Rel(diskRoot, p)
	if err != nil {
		panic(err)
	}
	if rel == "." {
		return imageRoot
	}
	return path.Join(imageRoot, filepath.ToSlash(rel))
}

// writeParents writes the ancestors of image (outermost first, "/" excluded), each stat'ed at the disk
// ancestor the same number of levels above disk, with its real owner.
func (w *layerWriter) writeParents(disk, image string) error {
	type pair struct{ image, disk string }
	var chain []pair
	img, d := path.Dir(image), filepath.Dir(disk)
	for img != "/" && img != "." {
		chain = append([]pair{{img, d}}, chain...)
		img, d = path.Dir(img), filepath.Dir(d)
	}
	for _, p := range chain {
		fi, err := os.Stat(p.disk)
		if err != nil {
			return err
		}
		if err := w.addFile(p.image, p.disk, fi); err != nil {
			return err
		}
	}
	return nil
}

func dirLayer(w *layerWriter, disk, image string, uid, gid int) error {
	disk = filepath.Clean(disk)
	if err := w.writeParents(disk, image); err != nil {
		return err
	}
	w.owner = &[2]int{uid, gid}
	return filepath.Walk(disk, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return w.addFile(imagePathOf(disk, image, p), p, fi)
	})
}

func appLayer(w *layerWriter, disk, image string, uid, gid int) error {
	disk = filepath.Clean(disk)
	type file struct {
		image, disk string
		fi          os.FileInfo
	}
	var files []file
	err := filepath.Walk(disk, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		files = append(files, file{imagePathOf(disk, image, p), p, fi})
		return nil
	})
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return nil
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].image < files[j].image })
	if err := w.writeParents(disk, image); err != nil {
		return err
	}
	w.owner = &[2]int{uid, gid}
	for _, f := range files {
		if err := w.addFile(f.image, f.disk, f.fi); err != nil {
			return err
		}
	}
	return nil
}

func rootDir(w *layerWriter, name string) error {
	return w.writeHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755})
}

func launcherLayer(w *layerWriter, file string) error {
	if err := rootDir(w, "/cnb"); err != nil {
		return err
	}
	if err := rootDir(w, "/cnb/lifecycle"); err != nil {
		return err
	}
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	hdr, err := tar.FileInfoHeader(fi, "")
	if err != nil {
		return err
	}
	hdr.Name = "/cnb/lifecycle/launcher"
	hdr.Mode = 0o755
	hdr.Uid, hdr.Gid = 0, 0
	if err := w.writeHeader(hdr); err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w.tw, f)
	return err
}

func processTypesLayer(w *layerWriter, types []string) error {
	for _, t := range types {
		if t == "" || strings.ContainsAny(t, "/><:|&\\") {
			return fmt.Errorf("invalid process type %q", t)
		}
	}
	if err := rootDir(w, "/cnb"); err != nil {
		return err
	}
	if err := rootDir(w, "/cnb/process"); err != nil {
		return err
	}
	for _, t := range types {
		hdr := &tar.Header{Typeflag: tar.TypeSymlink, Name: "/cnb/process/" + t, Linkname: "/cnb/lifecycle/launcher", Mode: 0o755}
		if err := w.writeHeader(hdr); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	kind := flag.String("kind", "dir", "dir, app, launcher or process-types")
	disk := flag.String("disk", "", "the layer directory (dir, app) or the launcher file (launcher) on disk")
	image := flag.String("image", "", "the layer directory's absolute path in the image (dir, app)")
	uid := flag.Int("uid", 0, "owner uid of the layer's contents (dir, app)")
	gid := flag.Int("gid", 0, "owner gid of the layer's contents (dir, app)")
	types := flag.String("types", "", "comma-separated process types (process-types)")
	out := flag.String("out", "", "also write the tar to this file")
	flag.Parse()

	h := sha256.New()
	cnt := &countingWriter{}
	sinks := []io.Writer{h, cnt}
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fail(err)
		}
		defer f.Close()
		sinks = append(sinks, f)
	}
	w := &layerWriter{tw: tar.NewWriter(io.MultiWriter(sinks...))}
	var err error
	switch *kind {
	case "dir":
		err = dirLayer(w, *disk, *image, *uid, *gid)
	case "app":
		err = appLayer(w, *disk, *image, *uid, *gid)
	case "launcher":
		err = launcherLayer(w, *disk)
	case "process-types":
		var ts []string
		if *types != "" {
			ts = strings.Split(*types, ",")
		}
		err = processTypesLayer(w, ts)
	default:
		err = fmt.Errorf("unknown -kind %q", *kind)
	}
	if err != nil {
		fail(err)
	}
	if err := w.tw.Close(); err != nil {
		fail(err)
	}
	fmt.Printf("sha256:%s %d\n", hex.EncodeToString(h.Sum(nil)), cnt.n)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "lifecycle-tar:", err)
	os.Exit(1)
}
