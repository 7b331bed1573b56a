#!/usr/bin/env bash
# The documentation and deployment files against the binary they describe:
#   docs    the option table in docs/configuration.md is what
#           `streamrec config --markdown` prints, and every `streamrec ...`
#           command line in docs/*.md uses a real subcommand and real options;
#   systemd the unit passes `systemd-analyze verify`, keeps its exposure
#           score low, and the daemon under strace uses no system call the
#           unit's filter denies and maps no writable+executable memory;
#   docker  the Dockerfile's structure (two bookworm stages, runtime
#           libraries only and a non-root user in the final one, the build
#           dependencies CMakeLists.txt names in the first), the binary's
#           libraries covered, the copied context configures with CMake;
#   k8s     the manifests parse (and pass yamllint), and their fields agree
#           with each other, with the image and with the config.
# Usage: bash test_docs.sh STREAMREC_BINARY, with SR_SOURCE_DIR set. A check
# whose tool is missing prints SKIP with the reason; it never passes silently.

SR_BIN=$1
SRC=${SR_SOURCE_DIR:?SR_SOURCE_DIR must name the source tree}
source "$(dirname "$0")/lib.sh"
# One stream, so a failure's details print next to its FAIL line.
exec 2>&1

passed=0
failed=0
skipped=0
ok() {
  echo "ok - $1"
  passed=$((passed + 1))
}
bad() {
  echo "FAIL - $1" >&2
  failed=$((failed + 1))
}
skip() {
  echo "SKIP - $1"
  skipped=$((skipped + 1))
}

# A python3 that has PyYAML (Debian: python3-yaml), else one without it.
PY=""
PY_YAML=""
for py in python3 /usr/bin/python3; do
  command -v "$py" >/dev/null || continue
  [ -n "$PY" ] || PY=$py
  if "$py" -c 'import yaml' 2>/dev/null; then
    PY=$py PY_YAML=$py
    break
  fi
done

check_config_table() {
  local doc=$SRC/docs/configuration.md marker='^<!-- generated'
  if [ ! -f "$doc" ]; then
    bad "docs/configuration.md is missing"
    return
  fi
  if ! grep -q "$marker" "$doc"; then
    bad "docs/configuration.md has no '<!-- generated' marker line"
    return
  fi
  sed "1,/$marker/d" "$doc" >"$SR_TMP/table.doc"
  if ! "$SR_BIN" config --markdown >"$SR_TMP/table.bin"; then
    bad "streamrec config --markdown failed"
    return
  fi
  if diff -u "$SR_TMP/table.doc" "$SR_TMP/table.bin" >"$SR_TMP/table.diff"; then
    ok "docs/configuration.md matches streamrec config --markdown"
  else
    cat "$SR_TMP/table.diff" >&2
    bad "docs/configuration.md differs from the option table; regenerate it:
  sed -i '/^<!-- generated/q' docs/configuration.md && build/streamrec config --markdown >> docs/configuration.md"
  fi
}

# Every `streamrec SUB ...` in a code block or code span of docs/*.md, except
# in paragraphs marked **Pending, names a subcommand whose --help lists each
# --option used.
check_doc_commands() {
  if [ -z "$PY" ]; then
    skip "docs command lines: no python3"
    return
  fi
  local out
  if out=$("$PY" - "$SR_BIN" "$SRC"/docs/*.md 2>&1 <<'EOF'
import re, subprocess, sys
binary, docs = sys.argv[1], sys.argv[2:]
helps, errors, seen = {}, [], 0

def check(cmd, where):
    global seen
    toks = cmd.split()
    if len(toks) < 2 or toks[0] != "streamrec":
        return
    sub = toks[1]
    if not re.fullmatch(r"[a-z]+", sub):
        return  # a placeholder such as <command>
    if sub not in helps:
        r = subprocess.run([binary, sub, "--help"], capture_output=True, text=True)
        helps[sub] = r.stdout if r.returncode == 0 else None
    if helps[sub] is None:
        errors.append(f"{where}: 'streamrec {sub}' is not a command: {cmd}")
        return
    seen += 1
    for t in toks[2:]:
        opt = re.match(r"(--[a-z][a-z-]*)", t)
        if opt and opt.group(1) not in helps[sub]:
            errors.append(f"{where}: streamrec {sub} has no {opt.group(1)}: {cmd}")

def commands(text):
    # Skip leading VAR=value assignments, keep what starts with streamrec.
    text = re.sub(r"^(\w+=\S+\s+)+", "", text.strip())
    return [text] if text.startswith("streamrec ") else []

for path in docs:
    lines = open(path).read().split("\n")
    fence, para, buf = False, [], ""
    for n, line in enumerate(lines + [""], 1):
        if line.startswith("```"):
            fence = not fence
            continue
        if fence:
            buf += line.rstrip("\\") + " "
            if not line.endswith("\\"):
                for c in commands(buf):
                    check(c, f"{path}:{n}")
                buf = ""
            continue
        if line.strip():
            para.append(line)
            continue
        text = " ".join(para)
        para = []
        if text.lstrip("-0123456789. ").startswith("**Pending"):
            continue
        for span in re.findall(r"`([^`]+)`", text):
            for c in commands(span):
                check(c, path)
print(f"{seen} command lines checked")
if errors:
    print("\n".join(errors))
    sys.exit(1)
EOF
  ); then
    ok "docs command lines use real subcommands and options ($out)"
  else
    echo "$out" >&2
    bad "docs/*.md names commands or options the binary lacks"
  fi
}

UNIT=$SRC/deploy/systemd/streamrec.service

check_systemd_verify() {
  if ! command -v systemd-analyze >/dev/null; then
    skip "systemd-analyze verify: systemd-analyze not installed (apt-get install systemd)"
    return
  fi
  # verify insists that ExecStart's binary exists: point a copy at ours.
  mkdir -p "$SR_TMP/unit"
  sed "s#/usr/bin/streamrec#$(readlink -f "$SR_BIN")#" "$UNIT" \
    >"$SR_TMP/unit/streamrec.service"
  if systemd-analyze verify "$SR_TMP/unit/streamrec.service" \
    >"$SR_TMP/verify.out" 2>&1 && [ ! -s "$SR_TMP/verify.out" ]; then
    ok "systemd-analyze verify streamrec.service"
  else
    cat "$SR_TMP/verify.out" >&2
    bad "systemd-analyze verify streamrec.service"
  fi
  # Exposure 2.0 or less is what systemd calls OK (the scale is 0-10;
  # --threshold takes tenths).
  if systemd-analyze security --offline=true --threshold=20 \
    "$SR_TMP/unit/streamrec.service" >"$SR_TMP/security.out" 2>&1; then
    ok "systemd-analyze security: $(grep -o 'exposure level.*' "$SR_TMP/security.out")"
  elif grep -q 'Overall exposure' "$SR_TMP/security.out"; then
    grep -E 'Overall|✗' "$SR_TMP/security.out" >&2
    bad "systemd-analyze security: exposure above 2.0"
  else
    skip "systemd-analyze security --offline: not supported by this systemd"
  fi
}

check_systemd_directives() {
  local want missing=()
  for want in 'DynamicUser=yes' 'StateDirectory=streamrec' \
    'ConfigurationDirectory=streamrec' 'ProtectSystem=strict' \
    'ProtectHome=yes' 'PrivateTmp=yes' 'NoNewPrivileges=yes' \
    'CapabilityBoundingSet=' 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
    'SystemCallFilter=@system-service' 'MemoryDenyWriteExecute=yes' \
    'LockPersonality=yes' 'Restart=on-failure' 'RestartPreventExitStatus=2' \
    'KillSignal=SIGTERM' 'ExecReload=/bin/kill -USR1 $MAINPID' \
    'EnvironmentFile=-/etc/streamrec/' \
    'ExecStart=/usr/bin/streamrec run -c /etc/streamrec/streamrec.json --set checkpoint.dir=${STATE_DIRECTORY}'; do
    grep -qF -- "$want" "$UNIT" || missing+=("$want")
  done
  local stop
  stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' "$UNIT")
  [ -n "$stop" ] && [ "$stop" -ge 60 ] || missing+=("TimeoutStopSec >= 60 s (plain seconds)")
  if [ ${#missing[@]} -eq 0 ]; then
    ok "streamrec.service has the required directives"
  else
    bad "streamrec.service lacks: ${missing[*]}"
  fi
}

# Runs the daemon under strace through start, a burst of events, SIGUSR1
# and SIGTERM, and checks every system call against the unit's
# SystemCallFilter (plus what ProtectClock= and friends deny) and every
# mapping against MemoryDenyWriteExecute.
check_systemd_syscalls() {
  if ! command -v strace >/dev/null; then
    skip "syscalls vs SystemCallFilter: strace not installed"
    return
  fi
  if ! command -v systemd-analyze >/dev/null || [ -z "$PY" ]; then
    skip "syscalls vs SystemCallFilter: needs systemd-analyze and python3"
    return
  fi
  if ldd "$SR_BIN" 2>/dev/null | grep -q 'libasan\|libubsan'; then
    skip "syscalls vs SystemCallFilter: sanitizer build (its runtime makes calls the release binary does not)"
    return
  fi
  if ! strace -f -o /dev/null true 2>/dev/null; then
    skip "syscalls vs SystemCallFilter: ptrace not permitted here"
    return
  fi
  local dir=$SR_TMP/strace
  mkdir -p "$dir"
  "$SR_BIN" gen --users 200 --items 100 --events 3000 --seed 5 \
    -o "$dir/events.jsonl" >/dev/null 2>&1
  strace -f -qq -o "$dir/trace" "$SR_BIN" run \
    --set checkpoint.dir="$dir/state" --set checkpoint.interval_s=0.5 \
    --set metrics.listen=off >"$dir/run.out" 2>"$dir/run.err" &
  local spid=$! pid="" deadline=$((SECONDS + 20))
  SR_PIDS+=("$spid")
  until grep -q '^embedded Kafka at' "$dir/run.out" 2>/dev/null; do
    if ! kill -0 "$spid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      cat "$dir/run.err" >&2
      bad "syscalls vs SystemCallFilter: streamrec run did not start under strace"
      return
    fi
    sleep 0.1
  done
  pid=$(ps -o pid= --ppid "$spid" | tr -d ' ')
  local brokers
  brokers=$(sed -n 's/^embedded Kafka at //p' "$dir/run.out" | head -n 1)
  "$SR_BIN" produce "$dir/events.jsonl" --topic events --brokers "$brokers" \
    >/dev/null 2>&1
  deadline=$((SECONDS + 30))
  until grep -q 'events_applied=3000' "$dir/run.err" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.2
  done
  kill -USR1 "$pid"
  sleep 1
  kill -TERM "$pid"
  wait_exit "$spid" 60
  local out
  if out=$("$PY" - "$UNIT" "$dir/trace" 2>&1 <<'EOF'
import re, subprocess, sys
unit, trace = sys.argv[1], sys.argv[2]

def expand(name, seen=None):
    seen = seen if seen is not None else set()
    if not name.startswith("@"):
        return {name}
    if name in seen:
        return set()
    seen.add(name)
    out = subprocess.run(["systemd-analyze", "syscall-filter", name],
                         capture_output=True, text=True, check=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        line = line.strip()
        if line and not line.startswith("#"):
            calls |= expand(line, seen)
    return calls

allowed, denied = None, set()
for line in open(unit):
    m = re.match(r"SystemCallFilter=(~?)(.*)", line.strip())
    if not m:
        continue
    names = set()
    for n in m.group(2).split():
        names |= expand(n)
    if m.group(1):
        denied |= names
    else:
        allowed = names if allowed is None else allowed | names
# What other directives of the unit deny on top of the filter.
for opt, group in (("ProtectClock=yes", "@clock"),
                   ("ProtectKernelModules=yes", "@module"),
                   ("PrivateDevices=yes", "@raw-io")):
    if opt in open(unit).read():
        denied |= expand(group)
used, wx = set(), []
for line in open(trace):
    m = re.match(r"\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", line)
    if m:
        used.add(m.group(1))
    if re.search(r"\b(mmap|mprotect|pkey_mprotect)\(.*PROT_WRITE.*PROT_EXEC|"
                 r"\b(mmap|mprotect|pkey_mprotect)\(.*PROT_EXEC.*PROT_WRITE", line):
        wx.append(line.strip())
used.discard("execve")  # strace's own exec of the binary, before the filter
bad = sorted(c for c in used if c not in (allowed or set()) or c in denied)
print(f"{len(used)} distinct system calls")
if bad or wx:
    print("denied by the unit's filter:", " ".join(bad))
    print("\n".join(wx[:5]))
    sys.exit(1)
EOF
  ); then
    if [ "$RC" == 0 ]; then
      ok "syscalls vs SystemCallFilter and W^X ($out, start to SIGTERM)"
    else
      bad "syscalls vs SystemCallFilter: streamrec run exited $RC under strace"
    fi
  else
    echo "$out" >&2
    bad "the daemon uses system calls or mappings streamrec.service forbids"
  fi
}

DOCKERFILE=$SRC/deploy/docker/Dockerfile

check_docker() {
  if [ -z "$PY" ]; then
    skip "Dockerfile structure: no python3"
    return
  fi
  local out
  if out=$("$PY" - "$DOCKERFILE" "$SRC" "$SR_BIN" "$SR_TMP/ctx" 2>&1 <<'EOF'
import fnmatch, glob, json, os, re, shutil, subprocess, sys
path, src, binary, ctx = sys.argv[1:5]
errors, notes = [], []

# Instructions with continuation lines joined, comments dropped.
instrs, cur = [], ""
for line in open(path):
    if not cur and line.lstrip().startswith("#"):
        continue
    cur += line.rstrip("\n")
    if cur.endswith("\\"):
        cur = cur[:-1] + " "
        continue
    if cur.strip():
        word, _, rest = cur.strip().partition(" ")
        instrs.append((word.upper(), rest.strip()))
    cur = ""

stages = []
for word, rest in instrs:
    if word == "FROM":
        stages.append({"from": rest, "instrs": []})
    elif stages:
        stages[-1]["instrs"].append((word, rest))
if len(stages) != 2:
    errors.append(f"{len(stages)} stages, expected 2 (build, runtime)")
for s in stages:
    if not re.match(r"debian:bookworm(\s|$)", s["from"]):
        errors.append(f"FROM {s['from']}: not debian:bookworm")
if errors:
    print("\n".join(errors)); sys.exit(1)
build, final = stages

def installed(stage):
    pkgs = []
    for word, rest in stage["instrs"]:
        if word == "RUN":
            for m in re.finditer(r"apt-get install ([^&;|]*)", rest):
                pkgs += [p for p in m.group(1).split() if not p.startswith("-")]
    return pkgs

def last(stage, word):
    vals = [rest for w, rest in stage["instrs"] if w == word]
    return vals[-1] if vals else None

runtime = installed(final)
for p in ["librdkafka1", "libuv1", "libprotobuf-c1", "libopenblas0-serial",
          "libjansson4", "libxxhash0", "libhttp-parser2.9"]:
    if p not in runtime:
        errors.append(f"runtime stage does not install {p}")
for p in runtime:
    if p.endswith("-dev") or p in ("build-essential", "gcc", "cmake", "make",
                                   "pkg-config", "protobuf-c-compiler"):
        errors.append(f"runtime stage installs build package {p}")
user = last(final, "USER")
if not user:
    errors.append("runtime stage has no USER")
elif user.split(":")[0] in ("root", "0"):
    errors.append(f"runtime stage runs as {user}")
if last(final, "VOLUME") not in ("/var/lib/streamrec", '["/var/lib/streamrec"]'):
    errors.append("runtime stage: VOLUME is not /var/lib/streamrec")
if "9464" not in (last(final, "EXPOSE") or ""):
    errors.append("runtime stage does not EXPOSE 9464")
if any(w == "HEALTHCHECK" for w, _ in final["instrs"]):
    errors.append("runtime stage has a HEALTHCHECK (Kubernetes probes instead)")
try:
    if json.loads(last(final, "ENTRYPOINT") or "null") != ["streamrec"]:
        errors.append("ENTRYPOINT is not [\"streamrec\"]")
    if json.loads(last(final, "CMD") or "null") != ["run", "-c", "/etc/streamrec/streamrec.json"]:
        errors.append("CMD is not [\"run\",\"-c\",\"/etc/streamrec/streamrec.json\"]")
except json.JSONDecodeError as e:
    errors.append(f"ENTRYPOINT/CMD not in exec form: {e}")

# The build stage installs what CMakeLists.txt says it needs ("apt-get
# install X" in its error messages), less the test-only and fallback ones.
cmake = open(os.path.join(src, "CMakeLists.txt")).read()
need = set(re.findall(r"apt-get install ([a-z0-9.+-]+)", cmake))
need -= {"libcmocka-dev", "libopenblas-dev"}
for p in sorted(need - set(installed(build))):
    errors.append(f"build stage does not install {p} (named in CMakeLists.txt)")

# Every package named exists in Debian's lists, when this machine has them
# (one apt-cache call: each one reads the whole package cache).
if glob.glob("/var/lib/apt/lists/*_Packages*") and shutil.which("apt-cache"):
    names = sorted(set(installed(build) + runtime))
    r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + names,
                       capture_output=True, text=True)
    known = set(re.findall(r"^Package: (\S+)$", r.stdout, re.M))
    for p in names:
        if p not in known:
            errors.append(f"no Debian package named {p}")
else:
    notes.append("SKIP package names: no apt lists here")

# The binary's own libraries come from the runtime packages (libc6 and the
# sanitizer runtimes of an ASan build aside).
if shutil.which("objdump") and shutil.which("dpkg"):
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    paths = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
    dyn = subprocess.run(["objdump", "-p", binary], capture_output=True, text=True).stdout
    for so in re.findall(r"NEEDED\s+(\S+)", dyn):
        if so not in paths:
            errors.append(f"{so}: not found by ldd"); continue
        # dpkg knows a file by the path its package ships, which on a
        # merged-/usr system may be the ldd path or the resolved one.
        pkg = None
        for f in (paths[so], os.path.realpath(paths[so])):
            r = subprocess.run(["dpkg", "-S", f], capture_output=True, text=True)
            if r.returncode == 0:
                pkg = r.stdout.split(":")[0]
                break
        if pkg is None:
            notes.append(f"SKIP {so}: no package owns it here")
        elif pkg not in runtime and not re.match(r"libc6|libasan|libubsan|libgcc", pkg):
            errors.append(f"the binary needs {so} from {pkg}, which the runtime stage lacks")
else:
    notes.append("SKIP NEEDED libraries: no objdump or dpkg")

# COPY sources: present in the repository, not excluded by
# Dockerfile.dockerignore, and enough for CMake to configure the build.
ignore = []
ign = path + ".dockerignore"
if os.path.exists(ign):
    ignore = [l.strip() for l in open(ign) if l.strip() and not l.startswith("#")]
copies = []
for word, rest in build["instrs"] + final["instrs"]:
    if word == "COPY" and "--from" not in rest:
        copies += [p.rstrip("/") for p in rest.split()[:-1]]
for c in copies:
    if not os.path.exists(os.path.join(src, c)):
        errors.append(f"COPY {c}: not in the repository")
    parts = c.split("/")
    for pat in ignore:
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatch(prefix, pat) or fnmatch.fnmatch(prefix, pat.replace("**/", "")):
                errors.append(f"COPY {c}: excluded by {ign} pattern {pat}")
build_copies = [p.rstrip("/") for w, r in build["instrs"] if w == "COPY" for p in r.split()[:-1]]
shutil.rmtree(ctx, ignore_errors=True)
for c in build_copies:
    s, d = os.path.join(src, c), os.path.join(ctx, c)
    if os.path.isdir(s):
        shutil.copytree(s, d)
    elif os.path.exists(s):
        os.makedirs(os.path.dirname(d), exist_ok=True)
        shutil.copy(s, d)
if shutil.which("cmake") and not errors:
    r = subprocess.run(["cmake", "-S", ctx, "-B", os.path.join(ctx, "build"),
                        "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DSR_TESTS=OFF"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        errors.append("cmake cannot configure the build stage's COPY set:\n" + r.stderr[-2000:])
    else:
        notes.append("the build stage's COPY set configures with cmake")
print("; ".join(notes))
if errors:
    print("\n".join(errors)); sys.exit(1)
EOF
  ); then
    ok "Dockerfile structure and contents ($out)"
  else
    echo "$out" >&2
    bad "deploy/docker/Dockerfile"
  fi
  if command -v hadolint >/dev/null; then
    if hadolint "$DOCKERFILE" >&2; then ok "hadolint Dockerfile"; else bad "hadolint Dockerfile"; fi
  else
    skip "hadolint: not installed (Debian has no package; the structure check above stands in)"
  fi
  if docker info >/dev/null 2>&1; then
    skip "docker build: an engine is available, but building takes minutes; run it by hand"
  else
    skip "docker build: no Docker engine here"
  fi
}

K8S=$SRC/deploy/kubernetes

check_kubernetes() {
  if command -v yamllint >/dev/null; then
    if yamllint -f parsable -d '{extends: default, rules: {line-length: {max: 100}, document-start: disable}}' \
      "$K8S"/*.yaml >&2; then
      ok "yamllint deploy/kubernetes/*.yaml"
    else
      bad "yamllint deploy/kubernetes/*.yaml"
    fi
  else
    skip "yamllint: not installed (apt-get install yamllint)"
  fi
  if [ -z "$PY_YAML" ]; then
    skip "Kubernetes manifests: no python3 with PyYAML (apt-get install python3-yaml)"
    return
  fi
  local out
  if out=$("$PY_YAML" - "$K8S" "$SRC" "$DOCKERFILE" 2>&1 <<'EOF'
import glob, json, os, re, sys, yaml
k8s, src, dockerfile = sys.argv[1:4]
docs, errors = {}, []
for f in sorted(glob.glob(os.path.join(k8s, "*.yaml"))):
    for d in yaml.safe_load_all(open(f)):
        if not d:
            continue
        for key in ("apiVersion", "kind", "metadata"):
            if key not in d:
                errors.append(f"{f}: a document without {key}")
        docs.setdefault(d.get("kind"), []).append(d)
for kind in ("ConfigMap", "StatefulSet", "Service", "Secret"):
    if len(docs.get(kind, [])) != 1:
        errors.append(f"expected one {kind}, found {len(docs.get(kind, []))}")
if errors:
    print("\n".join(errors)); sys.exit(1)
cm, sts, svc, sec = (docs[k][0] for k in ("ConfigMap", "StatefulSet", "Service", "Secret"))

def expect(cond, msg):
    if not cond:
        errors.append(msg)

conf = json.loads(cm["data"]["streamrec.json"])
prod = json.load(open(os.path.join(src, "deploy/config/production.json")))
expect(conf == prod, "the ConfigMap's streamrec.json differs from deploy/config/production.json")
ckpt_dir = conf["checkpoint"]["dir"]
host, _, port = conf["metrics"]["listen"].rpartition(":")
expect(host == "0.0.0.0", f"metrics.listen {conf['metrics']['listen']}: probes need 0.0.0.0")

pod = sts["spec"]["template"]["spec"]
(c,) = pod["containers"]
ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
expect(ports.get("metrics") == int(port) == 9464,
       f"container port 'metrics' {ports.get('metrics')} vs metrics.listen port {port}")

def probe(name, path):
    p = c.get(name)
    if not p:
        return errors.append(f"no {name}")
    g = p.get("httpGet", {})
    pt = g.get("port")
    expect(g.get("path") == path, f"{name} path {g.get('path')}, expected {path}")
    expect(ports.get(pt, pt) == int(port), f"{name} port {pt} is not {port}")
probe("livenessProbe", "/healthz")
probe("readinessProbe", "/readyz")
probe("startupProbe", "/healthz")

claims = {t["metadata"]["name"] for t in sts["spec"].get("volumeClaimTemplates", [])}
mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
state = [n for n in claims if n in mounts]
expect(len(state) == 1, f"one volumeClaimTemplate mounted in the container, found {state}")
expect(state and mounts[state[0]] == ckpt_dir,
       f"the claim is mounted at {state and mounts[state[0]]}, checkpoint.dir is {ckpt_dir}")
expect(pod.get("terminationGracePeriodSeconds", 30) >= 60,
       "terminationGracePeriodSeconds under 60 s: too short for a final checkpoint")

psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
expect(csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, "runAsNonRoot is not true")
expect(csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem is not true")
expect(csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation is not false")
expect("ALL" in csc.get("capabilities", {}).get("drop", []), "capabilities do not drop ALL")
uid = csc.get("runAsUser", psc.get("runAsUser"))
m = re.search(r"^USER\s+(\d+)", open(dockerfile).read(), re.M)
expect(m and uid == int(m.group(1)), f"runAsUser {uid} is not the image's USER")

res = c.get("resources", {})
for kind in ("requests", "limits"):
    expect("memory" in res.get(kind, {}), f"no memory {kind}")
expect("cpu" in res.get("requests", {}), "no cpu request")

# The config file the container reads comes from this ConfigMap, the CA from
# the Secret, and the password variable from the Secret's key.
# In cluster mode each replica is a static member named after its pod.
clustered = bool(conf.get("cluster", {}).get("sync_topic"))
instance = ["--set", "cluster.instance_id=$(POD_NAME)"] if clustered else []
expect(c.get("args") == ["run", "-c", "/etc/streamrec/streamrec.json"] + instance,
       f"args {c.get('args')}")
env = {e["name"]: e for e in c.get("env", [])}
if clustered:
    ref = env.get("POD_NAME", {}).get("valueFrom", {}).get("fieldRef", {})
    expect(ref.get("fieldPath") == "metadata.name", f"POD_NAME is not the pod's name: {ref}")
    expect(sts["spec"].get("replicas", 1) > 1, "cluster mode with one replica")
    expect(sts["spec"].get("podManagementPolicy") == "Parallel",
           "podManagementPolicy is not Parallel")
cfg_mount = mounts.get("config")
files = {}
for v in pod.get("volumes", []):
    if v["name"] == "config":
        for s in v.get("projected", {}).get("sources", []):
            for kind in ("configMap", "secret"):
                if kind in s:
                    for it in s[kind].get("items", []):
                        files[f"{cfg_mount}/{it['path']}"] = (kind, s[kind]["name"], it["key"])
expect(files.get("/etc/streamrec/streamrec.json") == ("configMap", cm["metadata"]["name"], "streamrec.json"),
       "/etc/streamrec/streamrec.json is not the ConfigMap's streamrec.json")
ca = conf["kafka"]["properties"].get("ssl.ca.location")
expect(ca in files and files[ca][0] == "secret" and files[ca][2] in sec["stringData"],
       f"ssl.ca.location {ca} is not mounted from the Secret")
pw = conf["kafka"]["properties"]["sasl.password"]
var = re.fullmatch(r"\$\{(\w+)\}", pw)
expect(var and var.group(1) in env, f"sasl.password {pw} is not an env variable the pod sets")
if var and var.group(1) in env:
    ref = env[var.group(1)]["valueFrom"]["secretKeyRef"]
    expect(ref["name"] == sec["metadata"]["name"] and ref["key"] in sec["stringData"],
           f"{var.group(1)} comes from {ref}, not from the example Secret")

labels = sts["spec"]["template"]["metadata"]["labels"]
expect(sts["spec"]["serviceName"] == svc["metadata"]["name"], "serviceName is not the Service")
expect(all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()),
       "the Service selector does not match the pods")
expect(all(labels.get(k) == v for k, v in sts["spec"]["selector"]["matchLabels"].items()),
       "the StatefulSet selector does not match its pods")
sp = {p["name"]: p for p in svc["spec"]["ports"]}
expect("metrics" in sp and sp["metrics"]["port"] == 9464, "the Service has no metrics port 9464")
ann = svc["metadata"].get("annotations", {})
expect(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == "9464"
       and ann.get("prometheus.io/path") == "/metrics", f"prometheus annotations: {ann}")

def selects(sel):
    return all(labels.get(k) == v for k, v in sel.get("matchLabels", {}).items())
for pdb in docs.get("PodDisruptionBudget", []):
    expect(selects(pdb["spec"]["selector"]), "the PodDisruptionBudget does not select the pods")
# The topic Job creates the topics the ConfigMap names, on its brokers, and
# its pods are not taken for replicas.
for job in docs.get("Job", []):
    jpod = job["spec"]["template"]
    expect(not all(jpod["metadata"].get("labels", {}).get(k) == v
                   for k, v in sts["spec"]["selector"]["matchLabels"].items()),
           "the Job's pods carry the StatefulSet's labels")
    jenv = {e["name"]: e.get("value") for e in jpod["spec"]["containers"][0].get("env", [])}
    want = {"BROKERS": conf["kafka"]["brokers"], "INPUT_TOPIC": conf["kafka"]["input_topics"],
            "SYNC_TOPIC": conf.get("cluster", {}).get("sync_topic"),
            "SASL_USERNAME": conf["kafka"]["properties"].get("sasl.username")}
    if conf.get("cluster", {}).get("state_topic"):
        want["STATE_TOPIC"] = conf["cluster"]["state_topic"]
    for k, v in want.items():
        expect(jenv.get(k) == v, f"the Job's {k} is {jenv.get(k)}, the ConfigMap's {v}")
print(f"{sum(len(v) for v in docs.values())} documents")
if errors:
    print("\n".join(errors)); sys.exit(1)
EOF
  ); then
    ok "Kubernetes manifests agree with each other, the image and the config ($out)"
  else
    echo "$out" >&2
    bad "deploy/kubernetes/*.yaml"
  fi
}

check_config_table
check_doc_commands
check_systemd_directives
check_systemd_verify
check_systemd_syscalls
check_docker
check_kubernetes

echo "docs: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
