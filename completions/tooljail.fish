# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_tooljail_global_optspecs
    string join \n p/profile= ro= rw= exec= net= allow-domain= gpu learning isolation= timeout= memory= limit= env= keep-env= cwd= export-to= export= stdout-max= stderr-max= report= audit-log= session= agent= tool= user= state= client= c= v/verbose log-format= h/help V/version
end

function __fish_tooljail_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_tooljail_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_tooljail_using_subcommand
    set -l cmd (__fish_tooljail_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c tooljail -n "__fish_tooljail_needs_command" -s p -l profile -d 'Profile name or path (repeatable; later profiles override earlier ones). Default: `default`' -r
complete -c tooljail -n "__fish_tooljail_needs_command" -l ro -d 'Bind PATH read-only into the jail, files below it executable (repeatable)' -r -F
complete -c tooljail -n "__fish_tooljail_needs_command" -l rw -d 'Bind PATH read-write into the jail, not executable unless also given to --exec (repeatable)' -r -F
complete -c tooljail -n "__fish_tooljail_needs_command" -l exec -d 'Let files below PATH be executed: makes the bind of PATH (from --rw or the profile) executable, or binds PATH read-only and executable (repeatable)' -r -F
complete -c tooljail -n "__fish_tooljail_needs_command" -l net -d 'Network mode' -r -f -a "none\t'A private network namespace with only `lo`: nothing outside is reachable'
loopback\t'The same private namespace, for tools that talk to servers they start themselves'
host\t'The host\'s network, with TCP ports limited to the profile\'s list by Landlock'"
complete -c tooljail -n "__fish_tooljail_needs_command" -l allow-domain -d 'Let the command reach NAME (`pypi.org`, `*.example.com`) through the call\'s egress proxy, and nothing else (repeatable; adds to the profile\'s `[network] allow_domains`; docs/network.md)' -r
complete -c tooljail -n "__fish_tooljail_needs_command" -l isolation -d 'Isolation mode: `full` (namespaces, the default) or `landlock` (no namespaces, for containers that forbid them; lacks what docs/containers.md lists, and the report says)' -r -f -a "full\t'The full jail: namespaces, a new root, Landlock, seccomp, rlimits, a scratch tmpfs'
landlock\t'No namespaces: Landlock, seccomp, rlimits, no capabilities, no_new_privs only'"
complete -c tooljail -n "__fish_tooljail_needs_command" -l timeout -d 'Wall-clock limit, e.g. `30s`, `5m`' -r
complete -c tooljail -n "__fish_tooljail_needs_command" -l memory -d 'Memory limit, e.g. `512M`, `2G`' -r
complete -c tooljail -n "__fish_tooljail_needs_command" -l limit -d 'Set one limit for this call, over the profile\'s (repeatable): `wall_time`, `kill_after`, `cpu_time`, `memory`, `processes`, `open_files`, `file_size` or `scratch` (the scratch tmpfs size), e.g. `--limit processes=64 --limit cpu_time=2m`. `unlimited` lifts `cpu_time`, `memory`, `processes`, `open_files` and `file_size`' -r
complete -c tooljail -n "__fish_tooljail_needs_command" -l env -d 'Set KEY=VALUE in the command\'s environment (repeatable)' -r
complete -c tooljail -n "__fish_tooljail_needs_command" -l keep-env -d 'Pass the caller\'s KEY through to the command (repeatable)' -r
complete -c tooljail -n "__fish_tooljail_needs_command" -l cwd -d 'Working directory inside the jail; a relative DIR is taken from the current directory. Without it (and without a profile `cwd`), the command starts in the current directory when --ro/--rw/--exec binds it, else in the scratch' -r -F
complete -c tooljail -n "__fish_tooljail_needs_command" -l export-to -d 'Copy the files that match the export patterns out of the scratch into DIR (an existing host directory) when the command ends; see `[export]` in tooljail-profile(5)' -r -F
complete -c tooljail -n "__fish_tooljail_needs_command" -l export -d 'Export the scratch files matching PATTERN (a glob relative to the scratch, or to the profile\'s `[export] from`: `*.csv`, `out/*.csv`, `**/*.png`; repeatable); needs a destination (--export-to or `[export] to`)' -r
complete -c tooljail -n "__fish_tooljail_needs_command" -l stdout-max -d 'Pass at most SIZE bytes of the command\'s stdout to the caller (e.g. `64K`, `1M`); the rest is read and dropped, and one marker line says how many bytes were not shown' -r
complete -c tooljail -n "__fish_tooljail_needs_command" -l stderr-max -d 'As --stdout-max, for stderr' -r
complete -c tooljail -n "__fish_tooljail_needs_command" -l report -d 'Write the JSON run report to FILE, `-` (stdout) or `fd:N` (an inherited descriptor)' -r
complete -c tooljail -n "__fish_tooljail_needs_command" -l audit-log -d 'Append the audit record to PATH instead of the profile\'s or the default log' -r -F
complete -c tooljail -n "__fish_tooljail_needs_command" -l session -d 'Session label for the report and audit record' -r
complete -c tooljail -n "__fish_tooljail_needs_command" -l agent -d 'Agent label for the report and audit record' -r
complete -c tooljail -n "__fish_tooljail_needs_command" -l tool -d 'Tool label for the report and audit record' -r
complete -c tooljail -n "__fish_tooljail_needs_command" -l user -d 'Run the jail as this user (name or uid); only when tooljail is started as root' -r
complete -c tooljail -n "__fish_tooljail_needs_command" -l state -d 'The call state store for `[budget]` rules: `sqlite:PATH` or `postgres://...` (default: the profile\'s `[budget] state`, else `$XDG_STATE_HOME/tooljail/state.db`, for root `/var/lib/tooljail/state.db`). Opened only when the profile has a call rule' -r
complete -c tooljail -n "__fish_tooljail_needs_command" -l client -d 'The MCP client this call serves, for the report and audit record: a JSON object (`name`, `version`, `meta`); `tooljail mcp` sets it from the client\'s `initialize` and the request\'s `_meta`' -r
complete -c tooljail -n "__fish_tooljail_needs_command" -s c -d 'Run `/bin/sh -c STRING` in the jail (a command prefix for agents: with `CLAUDE_CODE_SHELL_PREFIX="tooljail -c"`). Settings a prefix cannot pass as flags come from the environment: TOOLJAIL_PROFILE (names, comma-separated), TOOLJAIL_RO, TOOLJAIL_RW, TOOLJAIL_EXEC (paths, colon-separated), TOOLJAIL_NET, TOOLJAIL_ALLOW_DOMAINS (names, comma-separated), TOOLJAIL_TIMEOUT, TOOLJAIL_REPORT (FILE or fd:N, never stdout), TOOLJAIL_AUDIT_LOG, TOOLJAIL_SESSION, TOOLJAIL_AGENT, TOOLJAIL_TOOL, TOOLJAIL_STATE and TOOLJAIL_SHELL (default /bin/sh); a flag given on the command line wins over its variable. tooljail itself writes nothing to stdout' -r
complete -c tooljail -n "__fish_tooljail_needs_command" -l log-format -d 'Format of diagnostics on stderr (`TOOLJAIL_LOG` sets a filter, e.g. `tooljail=debug`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per event (for log collectors)'"
complete -c tooljail -n "__fish_tooljail_needs_command" -l gpu -d 'Give the command this host\'s GPUs: the NVIDIA and DRM render device nodes that exist (/dev/nvidia*, /dev/dri/renderD*), with ioctl on exactly those; exit 125 when there are none'
complete -c tooljail -n "__fish_tooljail_needs_command" -l learning -d 'A learning run (what `tooljail learn` starts): every syscall the filter allows is shown to the supervisor and recorded in the report\'s `observed` section'
complete -c tooljail -n "__fish_tooljail_needs_command" -s v -l verbose -d 'More diagnostics on stderr (-v: steps and causes, -vv: timings of every setup step)'
complete -c tooljail -n "__fish_tooljail_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tooljail -n "__fish_tooljail_needs_command" -s V -l version -d 'Print version'
complete -c tooljail -n "__fish_tooljail_needs_command" -a "run" -d 'Run CMD in a jail built from the profile(s)'
complete -c tooljail -n "__fish_tooljail_needs_command" -a "check" -d 'Validate profiles (names or paths); exit 0, or 125 with positioned errors'
complete -c tooljail -n "__fish_tooljail_needs_command" -a "explain" -d 'Print the fully resolved Policy that `run` would enforce'
complete -c tooljail -n "__fish_tooljail_needs_command" -a "profiles" -d 'List the profiles found, where each comes from, and what it is for'
complete -c tooljail -n "__fish_tooljail_needs_command" -a "doctor" -d 'Report what this kernel and host support, and which profiles can be enforced in full'
complete -c tooljail -n "__fish_tooljail_needs_command" -a "audit" -d 'Query the audit trail: who ran what, as whom, when, and what happened'
complete -c tooljail -n "__fish_tooljail_needs_command" -a "state" -d 'Show call state: each session\'s calls, CPU and wall time against the [budget] limits'
complete -c tooljail -n "__fish_tooljail_needs_command" -a "why" -d 'Say why a run was denied something: each denial in plain words, with the flag or profile line that allows it'
complete -c tooljail -n "__fish_tooljail_needs_command" -a "learn" -d 'Learn the profile a command needs from a run of it; check or merge learned profiles'
complete -c tooljail -n "__fish_tooljail_needs_command" -a "mcp" -d 'Serve jailed tools to an MCP client over stdio, one jail per `tools/call`'
complete -c tooljail -n "__fish_tooljail_needs_command" -a "man" -d 'Show a manual page, built into the binary (so `cargo install` users have them too)'
complete -c tooljail -n "__fish_tooljail_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l log-format -d 'Format of diagnostics on stderr (`TOOLJAIL_LOG` sets a filter, e.g. `tooljail=debug`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per event (for log collectors)'"
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -s p -l profile -d 'Profile name or path (repeatable; later profiles override earlier ones). Default: `default`' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l ro -d 'Bind PATH read-only into the jail, files below it executable (repeatable)' -r -F
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l rw -d 'Bind PATH read-write into the jail, not executable unless also given to --exec (repeatable)' -r -F
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l exec -d 'Let files below PATH be executed: makes the bind of PATH (from --rw or the profile) executable, or binds PATH read-only and executable (repeatable)' -r -F
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l net -d 'Network mode' -r -f -a "none\t'A private network namespace with only `lo`: nothing outside is reachable'
loopback\t'The same private namespace, for tools that talk to servers they start themselves'
host\t'The host\'s network, with TCP ports limited to the profile\'s list by Landlock'"
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l allow-domain -d 'Let the command reach NAME (`pypi.org`, `*.example.com`) through the call\'s egress proxy, and nothing else (repeatable; adds to the profile\'s `[network] allow_domains`; docs/network.md)' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l isolation -d 'Isolation mode: `full` (namespaces, the default) or `landlock` (no namespaces, for containers that forbid them; lacks what docs/containers.md lists, and the report says)' -r -f -a "full\t'The full jail: namespaces, a new root, Landlock, seccomp, rlimits, a scratch tmpfs'
landlock\t'No namespaces: Landlock, seccomp, rlimits, no capabilities, no_new_privs only'"
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l timeout -d 'Wall-clock limit, e.g. `30s`, `5m`' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l memory -d 'Memory limit, e.g. `512M`, `2G`' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l limit -d 'Set one limit for this call, over the profile\'s (repeatable): `wall_time`, `kill_after`, `cpu_time`, `memory`, `processes`, `open_files`, `file_size` or `scratch` (the scratch tmpfs size), e.g. `--limit processes=64 --limit cpu_time=2m`. `unlimited` lifts `cpu_time`, `memory`, `processes`, `open_files` and `file_size`' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l env -d 'Set KEY=VALUE in the command\'s environment (repeatable)' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l keep-env -d 'Pass the caller\'s KEY through to the command (repeatable)' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l cwd -d 'Working directory inside the jail; a relative DIR is taken from the current directory. Without it (and without a profile `cwd`), the command starts in the current directory when --ro/--rw/--exec binds it, else in the scratch' -r -F
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l export-to -d 'Copy the files that match the export patterns out of the scratch into DIR (an existing host directory) when the command ends; see `[export]` in tooljail-profile(5)' -r -F
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l export -d 'Export the scratch files matching PATTERN (a glob relative to the scratch, or to the profile\'s `[export] from`: `*.csv`, `out/*.csv`, `**/*.png`; repeatable); needs a destination (--export-to or `[export] to`)' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l stdout-max -d 'Pass at most SIZE bytes of the command\'s stdout to the caller (e.g. `64K`, `1M`); the rest is read and dropped, and one marker line says how many bytes were not shown' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l stderr-max -d 'As --stdout-max, for stderr' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l report -d 'Write the JSON run report to FILE, `-` (stdout) or `fd:N` (an inherited descriptor)' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l audit-log -d 'Append the audit record to PATH instead of the profile\'s or the default log' -r -F
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l session -d 'Session label for the report and audit record' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l agent -d 'Agent label for the report and audit record' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l tool -d 'Tool label for the report and audit record' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l user -d 'Run the jail as this user (name or uid); only when tooljail is started as root' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l state -d 'The call state store for `[budget]` rules: `sqlite:PATH` or `postgres://...` (default: the profile\'s `[budget] state`, else `$XDG_STATE_HOME/tooljail/state.db`, for root `/var/lib/tooljail/state.db`). Opened only when the profile has a call rule' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l client -d 'The MCP client this call serves, for the report and audit record: a JSON object (`name`, `version`, `meta`); `tooljail mcp` sets it from the client\'s `initialize` and the request\'s `_meta`' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -s v -l verbose -d 'More diagnostics on stderr (-v: steps and causes, -vv: timings of every setup step)'
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l gpu -d 'Give the command this host\'s GPUs: the NVIDIA and DRM render device nodes that exist (/dev/nvidia*, /dev/dri/renderD*), with ioctl on exactly those; exit 125 when there are none'
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -l learning -d 'A learning run (what `tooljail learn` starts): every syscall the filter allows is shown to the supervisor and recorded in the report\'s `observed` section'
complete -c tooljail -n "__fish_tooljail_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tooljail -n "__fish_tooljail_using_subcommand check" -l log-format -d 'Format of diagnostics on stderr (`TOOLJAIL_LOG` sets a filter, e.g. `tooljail=debug`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per event (for log collectors)'"
complete -c tooljail -n "__fish_tooljail_using_subcommand check" -s v -l verbose -d 'More diagnostics on stderr (-v: steps and causes, -vv: timings of every setup step)'
complete -c tooljail -n "__fish_tooljail_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l log-format -d 'Format of diagnostics on stderr (`TOOLJAIL_LOG` sets a filter, e.g. `tooljail=debug`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per event (for log collectors)'"
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -s p -l profile -d 'Profile name or path (repeatable; later profiles override earlier ones). Default: `default`' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l ro -d 'Bind PATH read-only into the jail, files below it executable (repeatable)' -r -F
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l rw -d 'Bind PATH read-write into the jail, not executable unless also given to --exec (repeatable)' -r -F
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l exec -d 'Let files below PATH be executed: makes the bind of PATH (from --rw or the profile) executable, or binds PATH read-only and executable (repeatable)' -r -F
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l net -d 'Network mode' -r -f -a "none\t'A private network namespace with only `lo`: nothing outside is reachable'
loopback\t'The same private namespace, for tools that talk to servers they start themselves'
host\t'The host\'s network, with TCP ports limited to the profile\'s list by Landlock'"
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l allow-domain -d 'Let the command reach NAME (`pypi.org`, `*.example.com`) through the call\'s egress proxy, and nothing else (repeatable; adds to the profile\'s `[network] allow_domains`; docs/network.md)' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l isolation -d 'Isolation mode: `full` (namespaces, the default) or `landlock` (no namespaces, for containers that forbid them; lacks what docs/containers.md lists, and the report says)' -r -f -a "full\t'The full jail: namespaces, a new root, Landlock, seccomp, rlimits, a scratch tmpfs'
landlock\t'No namespaces: Landlock, seccomp, rlimits, no capabilities, no_new_privs only'"
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l timeout -d 'Wall-clock limit, e.g. `30s`, `5m`' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l memory -d 'Memory limit, e.g. `512M`, `2G`' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l limit -d 'Set one limit for this call, over the profile\'s (repeatable): `wall_time`, `kill_after`, `cpu_time`, `memory`, `processes`, `open_files`, `file_size` or `scratch` (the scratch tmpfs size), e.g. `--limit processes=64 --limit cpu_time=2m`. `unlimited` lifts `cpu_time`, `memory`, `processes`, `open_files` and `file_size`' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l env -d 'Set KEY=VALUE in the command\'s environment (repeatable)' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l keep-env -d 'Pass the caller\'s KEY through to the command (repeatable)' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l cwd -d 'Working directory inside the jail; a relative DIR is taken from the current directory. Without it (and without a profile `cwd`), the command starts in the current directory when --ro/--rw/--exec binds it, else in the scratch' -r -F
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l export-to -d 'Copy the files that match the export patterns out of the scratch into DIR (an existing host directory) when the command ends; see `[export]` in tooljail-profile(5)' -r -F
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l export -d 'Export the scratch files matching PATTERN (a glob relative to the scratch, or to the profile\'s `[export] from`: `*.csv`, `out/*.csv`, `**/*.png`; repeatable); needs a destination (--export-to or `[export] to`)' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l stdout-max -d 'Pass at most SIZE bytes of the command\'s stdout to the caller (e.g. `64K`, `1M`); the rest is read and dropped, and one marker line says how many bytes were not shown' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l stderr-max -d 'As --stdout-max, for stderr' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -s v -l verbose -d 'More diagnostics on stderr (-v: steps and causes, -vv: timings of every setup step)'
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l gpu -d 'Give the command this host\'s GPUs: the NVIDIA and DRM render device nodes that exist (/dev/nvidia*, /dev/dri/renderD*), with ioctl on exactly those; exit 125 when there are none'
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l learning -d 'A learning run (what `tooljail learn` starts): every syscall the filter allows is shown to the supervisor and recorded in the report\'s `observed` section'
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -l json -d 'Print the Policy as JSON (the same document `run` hashes into the report)'
complete -c tooljail -n "__fish_tooljail_using_subcommand explain" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tooljail -n "__fish_tooljail_using_subcommand profiles" -l log-format -d 'Format of diagnostics on stderr (`TOOLJAIL_LOG` sets a filter, e.g. `tooljail=debug`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per event (for log collectors)'"
complete -c tooljail -n "__fish_tooljail_using_subcommand profiles" -s v -l verbose -d 'More diagnostics on stderr (-v: steps and causes, -vv: timings of every setup step)'
complete -c tooljail -n "__fish_tooljail_using_subcommand profiles" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tooljail -n "__fish_tooljail_using_subcommand doctor" -l log-format -d 'Format of diagnostics on stderr (`TOOLJAIL_LOG` sets a filter, e.g. `tooljail=debug`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per event (for log collectors)'"
complete -c tooljail -n "__fish_tooljail_using_subcommand doctor" -s v -l verbose -d 'More diagnostics on stderr (-v: steps and causes, -vv: timings of every setup step)'
complete -c tooljail -n "__fish_tooljail_using_subcommand doctor" -l json -d 'Print the findings as JSON'
complete -c tooljail -n "__fish_tooljail_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tooljail -n "__fish_tooljail_using_subcommand audit" -l log-format -d 'Format of diagnostics on stderr (`TOOLJAIL_LOG` sets a filter, e.g. `tooljail=debug`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per event (for log collectors)'"
complete -c tooljail -n "__fish_tooljail_using_subcommand audit" -l log -l audit-log -d 'The audit log to read (default: the invoking user\'s default log)' -r -F
complete -c tooljail -n "__fish_tooljail_using_subcommand audit" -l state -d 'Read the audit records of a state store instead (`sqlite:PATH` or `postgres://...`): a fleet\'s records in one place' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand audit" -l user -d 'Only runs by this user (name or uid, invoking or effective)' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand audit" -l since -d 'Only runs started at or after T (RFC 3339, or a duration ago such as `2h`)' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand audit" -l until -d 'Only runs started before T (RFC 3339, or a duration ago)' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand audit" -l tool -d 'Only runs labelled with this tool' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand audit" -l session -d 'Only runs labelled with this session' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand audit" -l outcome -d 'Only runs with this outcome' -r -f -a "exited\t'The command exited by itself; `exit_code` is its status'
signaled\t'The command was killed by a signal nobody in tooljail sent for a limit'
timeout\t'The wall-clock limit fired (exit 124)'
limit\t'Another resource limit stopped the command (`stopped_by` names it)'
violation\t'A security rule stopped the command (e.g. a seccomp kill)'
refused\t'A call rule refused to start the command (`stopped_by`: `rate_limit`, `loop_guard` or `budget`); nothing ran'
cancelled\t'The caller cancelled the call: tooljail got SIGINT, SIGTERM or SIGHUP while the command ran and passed it on (`signal` says which, when the command died of it)'
setup_error\t'The jail could not be built or the command could not be executed; it never ran'"
complete -c tooljail -n "__fish_tooljail_using_subcommand audit" -s v -l verbose -d 'More diagnostics on stderr (-v: steps and causes, -vv: timings of every setup step)'
complete -c tooljail -n "__fish_tooljail_using_subcommand audit" -l verify -d 'Check the log\'s hash chain instead of listing records: name the first record that was removed, changed or inserted (exit 1), or say it is whole (exit 0)'
complete -c tooljail -n "__fish_tooljail_using_subcommand audit" -l json -d 'Print matching records as JSON lines instead of a table'
complete -c tooljail -n "__fish_tooljail_using_subcommand audit" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tooljail -n "__fish_tooljail_using_subcommand state; and not __fish_seen_subcommand_from reset help" -l log-format -d 'Format of diagnostics on stderr (`TOOLJAIL_LOG` sets a filter, e.g. `tooljail=debug`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per event (for log collectors)'"
complete -c tooljail -n "__fish_tooljail_using_subcommand state; and not __fish_seen_subcommand_from reset help" -l state -d 'The store: `sqlite:PATH` or `postgres://...` (default: the caller\'s SQLite store)' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand state; and not __fish_seen_subcommand_from reset help" -l session -d 'Only this session' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand state; and not __fish_seen_subcommand_from reset help" -s p -l profile -d 'Show the session limits of this profile\'s `[budget]` beside the use (repeatable, as `run -p`; its `[budget] state` is the store when `--state` is not given)' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand state; and not __fish_seen_subcommand_from reset help" -s v -l verbose -d 'More diagnostics on stderr (-v: steps and causes, -vv: timings of every setup step)'
complete -c tooljail -n "__fish_tooljail_using_subcommand state; and not __fish_seen_subcommand_from reset help" -l json -d 'Print JSON'
complete -c tooljail -n "__fish_tooljail_using_subcommand state; and not __fish_seen_subcommand_from reset help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tooljail -n "__fish_tooljail_using_subcommand state; and not __fish_seen_subcommand_from reset help" -f -a "reset" -d 'Forget the calls of `--session ID` (root, or the user who made them)'
complete -c tooljail -n "__fish_tooljail_using_subcommand state; and not __fish_seen_subcommand_from reset help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tooljail -n "__fish_tooljail_using_subcommand state; and __fish_seen_subcommand_from reset" -l log-format -d 'Format of diagnostics on stderr (`TOOLJAIL_LOG` sets a filter, e.g. `tooljail=debug`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per event (for log collectors)'"
complete -c tooljail -n "__fish_tooljail_using_subcommand state; and __fish_seen_subcommand_from reset" -l state -d 'The store: `sqlite:PATH` or `postgres://...` (default: the caller\'s SQLite store)' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand state; and __fish_seen_subcommand_from reset" -l session -d 'Only this session' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand state; and __fish_seen_subcommand_from reset" -s v -l verbose -d 'More diagnostics on stderr (-v: steps and causes, -vv: timings of every setup step)'
complete -c tooljail -n "__fish_tooljail_using_subcommand state; and __fish_seen_subcommand_from reset" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tooljail -n "__fish_tooljail_using_subcommand state; and __fish_seen_subcommand_from help" -f -a "reset" -d 'Forget the calls of `--session ID` (root, or the user who made them)'
complete -c tooljail -n "__fish_tooljail_using_subcommand state; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tooljail -n "__fish_tooljail_using_subcommand why" -l log-format -d 'Format of diagnostics on stderr (`TOOLJAIL_LOG` sets a filter, e.g. `tooljail=debug`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per event (for log collectors)'"
complete -c tooljail -n "__fish_tooljail_using_subcommand why" -l log -l audit-log -d 'The audit log `--last` reads (default: your default audit log)' -r -F
complete -c tooljail -n "__fish_tooljail_using_subcommand why" -s v -l verbose -d 'More diagnostics on stderr (-v: steps and causes, -vv: timings of every setup step)'
complete -c tooljail -n "__fish_tooljail_using_subcommand why" -l last -d 'Explain your last run recorded in the audit log instead of a report file'
complete -c tooljail -n "__fish_tooljail_using_subcommand why" -l json -d 'Print the explanation as JSON'
complete -c tooljail -n "__fish_tooljail_using_subcommand why" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tooljail -n "__fish_tooljail_using_subcommand learn" -l log-format -d 'Format of diagnostics on stderr (`TOOLJAIL_LOG` sets a filter, e.g. `tooljail=debug`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per event (for log collectors)'"
complete -c tooljail -n "__fish_tooljail_using_subcommand learn" -s p -l profile -d 'The learning base: the profile the learning run uses' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand learn" -l out -d 'Write the learned profile to FILE (default: stdout; with --merge, the merged file)' -r -F
complete -c tooljail -n "__fish_tooljail_using_subcommand learn" -l merge -d 'Add this run to FILE, a profile learned before, so one profile covers the tool\'s modes' -r -F
complete -c tooljail -n "__fish_tooljail_using_subcommand learn" -l check -d 'Do not learn: run CMD under the profile FILE and say whether it passes (exit 0) or what was denied (exit 1)' -r -F
complete -c tooljail -n "__fish_tooljail_using_subcommand learn" -l env -d 'Set KEY=VALUE in the command\'s environment, in the learning or checking run (repeatable; not written into the profile)' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand learn" -s v -l verbose -d 'More diagnostics on stderr (-v: steps and causes, -vv: timings of every setup step)'
complete -c tooljail -n "__fish_tooljail_using_subcommand learn" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tooljail -n "__fish_tooljail_using_subcommand mcp" -l log-format -d 'Format of diagnostics on stderr (`TOOLJAIL_LOG` sets a filter, e.g. `tooljail=debug`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per event (for log collectors)'"
complete -c tooljail -n "__fish_tooljail_using_subcommand mcp" -l tools -d 'Serve the tools of FILE over stdio (JSON-RPC 2.0, newline-delimited)' -r -F
complete -c tooljail -n "__fish_tooljail_using_subcommand mcp" -l check -d 'Check FILE instead: list each tool as served or missing, and why (exit 0 when every tool can be served, 1 when one cannot, 125 when the file is wrong)' -r -F
complete -c tooljail -n "__fish_tooljail_using_subcommand mcp" -l session -d 'Session label of every call (default: one generated per server process)' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand mcp" -l agent -d 'Agent label of every call (default: the client\'s name from `initialize`)' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand mcp" -l max-calls -d 'Calls run at once; more wait for a free slot' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand mcp" -l audit-log -d 'Append every call\'s audit record to PATH (as `run --audit-log`)' -r -F
complete -c tooljail -n "__fish_tooljail_using_subcommand mcp" -l state -d 'The call state store for the profiles\' `[budget]` rules (as `run --state`)' -r
complete -c tooljail -n "__fish_tooljail_using_subcommand mcp" -s v -l verbose -d 'More diagnostics on stderr (-v: steps and causes, -vv: timings of every setup step)'
complete -c tooljail -n "__fish_tooljail_using_subcommand mcp" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tooljail -n "__fish_tooljail_using_subcommand man" -l log-format -d 'Format of diagnostics on stderr (`TOOLJAIL_LOG` sets a filter, e.g. `tooljail=debug`)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per event (for log collectors)'"
complete -c tooljail -n "__fish_tooljail_using_subcommand man" -s v -l verbose -d 'More diagnostics on stderr (-v: steps and causes, -vv: timings of every setup step)'
complete -c tooljail -n "__fish_tooljail_using_subcommand man" -l raw -d 'Print the roff source instead of showing it through man(1)'
complete -c tooljail -n "__fish_tooljail_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tooljail -n "__fish_tooljail_using_subcommand help; and not __fish_seen_subcommand_from run check explain profiles doctor audit state why learn mcp man help" -f -a "run" -d 'Run CMD in a jail built from the profile(s)'
complete -c tooljail -n "__fish_tooljail_using_subcommand help; and not __fish_seen_subcommand_from run check explain profiles doctor audit state why learn mcp man help" -f -a "check" -d 'Validate profiles (names or paths); exit 0, or 125 with positioned errors'
complete -c tooljail -n "__fish_tooljail_using_subcommand help; and not __fish_seen_subcommand_from run check explain profiles doctor audit state why learn mcp man help" -f -a "explain" -d 'Print the fully resolved Policy that `run` would enforce'
complete -c tooljail -n "__fish_tooljail_using_subcommand help; and not __fish_seen_subcommand_from run check explain profiles doctor audit state why learn mcp man help" -f -a "profiles" -d 'List the profiles found, where each comes from, and what it is for'
complete -c tooljail -n "__fish_tooljail_using_subcommand help; and not __fish_seen_subcommand_from run check explain profiles doctor audit state why learn mcp man help" -f -a "doctor" -d 'Report what this kernel and host support, and which profiles can be enforced in full'
complete -c tooljail -n "__fish_tooljail_using_subcommand help; and not __fish_seen_subcommand_from run check explain profiles doctor audit state why learn mcp man help" -f -a "audit" -d 'Query the audit trail: who ran what, as whom, when, and what happened'
complete -c tooljail -n "__fish_tooljail_using_subcommand help; and not __fish_seen_subcommand_from run check explain profiles doctor audit state why learn mcp man help" -f -a "state" -d 'Show call state: each session\'s calls, CPU and wall time against the [budget] limits'
complete -c tooljail -n "__fish_tooljail_using_subcommand help; and not __fish_seen_subcommand_from run check explain profiles doctor audit state why learn mcp man help" -f -a "why" -d 'Say why a run was denied something: each denial in plain words, with the flag or profile line that allows it'
complete -c tooljail -n "__fish_tooljail_using_subcommand help; and not __fish_seen_subcommand_from run check explain profiles doctor audit state why learn mcp man help" -f -a "learn" -d 'Learn the profile a command needs from a run of it; check or merge learned profiles'
complete -c tooljail -n "__fish_tooljail_using_subcommand help; and not __fish_seen_subcommand_from run check explain profiles doctor audit state why learn mcp man help" -f -a "mcp" -d 'Serve jailed tools to an MCP client over stdio, one jail per `tools/call`'
complete -c tooljail -n "__fish_tooljail_using_subcommand help; and not __fish_seen_subcommand_from run check explain profiles doctor audit state why learn mcp man help" -f -a "man" -d 'Show a manual page, built into the binary (so `cargo install` users have them too)'
complete -c tooljail -n "__fish_tooljail_using_subcommand help; and not __fish_seen_subcommand_from run check explain profiles doctor audit state why learn mcp man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
