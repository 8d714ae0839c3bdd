# SPDX-License-Identifier: BSD-2-Clause
# Sourced by review20-*.sh after netns.sh: old_build COMMIT NAME TARGET...
# sets old_dir to a build of COMMIT that has every TARGET: for 86a728d,
# $CUB_OLD_BUILD or hopkey-upgrade.sh's $CUB_BUILD/hopkey-old/build when
# they have them (used, never changed), else $CUB_BUILD/NAME/build, made
# or completed under a lock (tests run in parallel).
old_has() { # DIR TARGET...
	local d=$1 t
	shift
	[ -n "$d" ] || return 1
	for t in "$@"; do [ -e "$d/$t" ] || return 1; done
}
old_build() {
	local commit=$1 name=$2 src dir
	shift 2
	if [ "$commit" = 86a728d ]; then
		for old_dir in "${CUB_OLD_BUILD:-}" "$CUB_BUILD/hopkey-old/build"; do
			old_has "$old_dir" "$@" && return 0
		done
	fi
	src=$(cd "$CUB_LIB/../.." && pwd)
	dir=$CUB_BUILD/$name
	old_dir=$dir/build
	(
		flock 9
		old_has "$old_dir" "$@" && exit 0
		if [ ! -e "$old_dir/build.ninja" ]; then
			rm -rf "$dir" && mkdir -p "$dir" &&
				git -C "$src" archive "$commit" | tar -x -C "$dir" &&
				(cd "$dir" && meson setup build >/dev/null) || exit 1
		fi
		ninja -C "$old_dir" "$@" >/dev/null
	) 9>"$CUB_BUILD/$name.lock" || fail "cannot build $* of $commit in $dir"
}
