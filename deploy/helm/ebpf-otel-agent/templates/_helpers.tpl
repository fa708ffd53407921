{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "ebpf-otel-agent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects: the release name, with the chart name unless it already contains it. */}}
{{- define "ebpf-otel-agent.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ebpf-otel-agent.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{- define "ebpf-otel-agent.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ebpf-otel-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ebpf-otel-agent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ebpf-otel-agent.labels" -}}
helm.sh/chart: {{ include "ebpf-otel-agent.chart" . }}
{{ include "ebpf-otel-agent.podLabels" . }}
{{- end }}

{{- /* Pod template labels: no chart version, so a chart upgrade that changes nothing the pods run restarts none. */}}
{{- define "ebpf-otel-agent.podLabels" -}}
{{ include "ebpf-otel-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: agent
app.kubernetes.io/part-of: ebpf-otel-agent
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "ebpf-otel-agent.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ebpf-otel-agent.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ebpf-otel-agent.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* "true" when the XDP program runs, i.e. host interfaces are given. */}}
{{- define "ebpf-otel-agent.xdp" -}}
{{- if .Values.xdp.interfaces }}true{{ end }}
{{- end }}

{{/* "true" when the tc program runs, i.e. tc interfaces (names, globs, pods) are given. */}}
{{- define "ebpf-otel-agent.tc" -}}
{{- if .Values.tc.interfaces }}true{{ end }}
{{- end }}

{{/* "true" when a network program (xdp or tc) runs: both attach to interfaces of the host's network namespace. */}}
{{- define "ebpf-otel-agent.network" -}}
{{- if or (include "ebpf-otel-agent.xdp" .) (include "ebpf-otel-agent.tc" .) }}true{{ end }}
{{- end }}

{{/* hostNetwork: the value when set, else true exactly with XDP or tc interfaces. Renders "true" or "false". */}}
{{- define "ebpf-otel-agent.hostNetwork" -}}
{{- if kindIs "bool" .Values.hostNetwork }}
{{- .Values.hostNetwork }}
{{- else }}
{{- include "ebpf-otel-agent.network" . | eq "true" }}
{{- end }}
{{- end }}

{{/* "true" when pod names come from the kubelet: the service account token, RBAC and HOST_IP are needed. */}}
{{- define "ebpf-otel-agent.kubelet" -}}
{{- if .Values.attribution.kubelet.enabled }}true{{ end }}
{{- end }}

{{/* The programs to run, comma-separated: the list given, plus xdp when interfaces are given. */}}
{{- define "ebpf-otel-agent.programs" -}}
{{- $programs := uniq .Values.programs }}
{{- if include "ebpf-otel-agent.xdp" . }}
{{- if not (has "xdp" $programs) }}
{{- $programs = append $programs "xdp" }}
{{- end }}
{{- else if has "xdp" $programs }}
{{- fail "programs: xdp needs an interface: set xdp.interfaces" }}
{{- end }}
{{- if include "ebpf-otel-agent.tc" . }}
{{- if not (has "tc" $programs) }}
{{- $programs = append $programs "tc" }}
{{- end }}
{{- else if has "tc" $programs }}
{{- fail "programs: tc needs interfaces: set tc.interfaces (names, globs, or pods)" }}
{{- end }}
{{- if and .Values.execHandler.enabled (not (has "exec" $programs)) }}
{{- fail "execHandler.enabled needs the exec program: add exec to programs" }}
{{- end }}
{{- join "," $programs }}
{{- end }}

{{- define "ebpf-otel-agent.configDir" -}}/etc/ebpf-otel-agent{{- end }}
{{- define "ebpf-otel-agent.handlerDir" -}}/etc/ebpf-otel-agent/exec-handler{{- end }}
{{- define "ebpf-otel-agent.cgroupMount" -}}/host/sys/fs/cgroup{{- end }}

{{/* Path of the exec handler in the container: execHandler.path, else the mounted script. */}}
{{- define "ebpf-otel-agent.execHandlerPath" -}}
{{- if .Values.execHandler.path }}
{{- .Values.execHandler.path }}
{{- else if .Values.execHandler.script }}
{{- include "ebpf-otel-agent.handlerDir" . }}/handler
{{- else }}
{{- fail "execHandler.enabled needs execHandler.path or execHandler.script" }}
{{- end }}
{{- end }}

{{/*
The agent's config file: keys are the agent's flag names, and only the settings this chart sets are written (the
agent's defaults apply to the rest). kubelet-url is not here: it goes on the command line, where Kubernetes expands
$(HOST_IP).
*/}}
{{- define "ebpf-otel-agent.config" -}}
{{- $v := .Values }}
{{- $c := dict }}
{{- $_ := set $c "port" (int $v.port) }}
{{- $_ = set $c "interval" $v.interval }}
{{- $_ = set $c "programs" (include "ebpf-otel-agent.programs" .) }}
{{- if include "ebpf-otel-agent.xdp" . }}
{{- $_ = set $c "xdp-interface" $v.xdp.interfaces }}
{{- $_ = set $c "xdp-mode" $v.xdp.mode }}
{{- end }}
{{- if include "ebpf-otel-agent.tc" . }}
{{- $_ = set $c "net-interface" $v.tc.interfaces }}
{{- $_ = set $c "net-order" $v.tc.order }}
{{- end }}
{{- if not (kindIs "invalid" $v.cpu.sampleHz) }}
{{- $_ = set $c "cpu-sample-hz" (int $v.cpu.sampleHz) }}
{{- end }}
{{- if $v.execHandler.enabled }}
{{- $_ = set $c "exec-handler" (include "ebpf-otel-agent.execHandlerPath" .) }}
{{- $_ = set $c "exec-handler-rate" $v.execHandler.rate }}
{{- if not (kindIs "invalid" $v.execHandler.burst) }}
{{- $_ = set $c "exec-handler-burst" (int $v.execHandler.burst) }}
{{- end }}
{{- $_ = set $c "exec-handler-concurrency" (int $v.execHandler.concurrency) }}
{{- $_ = set $c "exec-handler-timeout" $v.execHandler.timeout }}
{{- with $v.execHandler.filterComm }}
{{- $_ = set $c "exec-filter-comm" . }}
{{- end }}
{{- with $v.execHandler.filterUids }}
{{- $uids := list }}
{{- range . }}
{{- $uids = append $uids (int64 .) }}
{{- end }}
{{- $_ = set $c "exec-filter-uid" $uids }}
{{- end }}
{{- end }}
{{- with $v.execLog }}
{{- $_ = set $c "exec-log" . }}
{{- end }}
{{- if not (kindIs "invalid" $v.execOnlyUid) }}
{{- $_ = set $c "exec-only-uid" (int64 $v.execOnlyUid) }}
{{- end }}
{{- $_ = set $c "max-series" (int $v.cardinality.maxSeries) }}
{{- $_ = set $c "pid-labels" $v.cardinality.pidLabels }}
{{- $_ = set $c "max-process-series" (int $v.cardinality.maxProcessSeries) }}
{{- $_ = set $c "exited-retention" $v.cardinality.exitedRetention }}
{{- $scrape := $v.cardinality.scrapeInterval | default (ternary $v.podMonitor.interval "" $v.podMonitor.enabled) | default (ternary $v.serviceMonitor.interval "" $v.serviceMonitor.enabled) }}
{{- with $scrape }}
{{- $_ = set $c "scrape-interval" . }}
{{- end }}
{{- $_ = set $c "container-labels" $v.attribution.containerLabels }}
{{- if $v.attribution.containerLabels }}
{{- $_ = set $c "cgroup-root" (include "ebpf-otel-agent.cgroupMount" .) }}
{{- end }}
{{- if $v.attribution.kubelet.enabled }}
{{- if $v.attribution.kubelet.caFile }}
{{- $_ = set $c "kubelet-ca-file" $v.attribution.kubelet.caFile }}
{{- $_ = set $c "kubelet-insecure-skip-verify" false }}
{{- else }}
{{- $_ = set $c "kubelet-insecure-skip-verify" $v.attribution.kubelet.insecureSkipVerify }}
{{- end }}
{{- else }}
{{- $_ = set $c "kubelet-url" "none" }}
{{- end }}
{{- with $v.otlp.endpoint }}
{{- $_ = set $c "otlp-endpoint" . }}
{{- $_ = set $c "otlp-protocol" $v.otlp.protocol }}
{{- end }}
{{- /* Mounting tracefs needs CAP_SYS_ADMIN, which the agent does not get: the host's tracefs is mounted in. */}}
{{- $_ = set $c "mount-tracefs" false }}
{{- $_ = set $c "log-level" $v.logLevel }}
{{- $_ = set $c "log-format" $v.logFormat }}
{{- toYaml $c }}
{{- end }}

{{/* Capabilities the agent container adds, after dropping ALL (docs/capabilities.md). */}}
{{- define "ebpf-otel-agent.capabilities" -}}
{{- $caps := list "BPF" "PERFMON" }}
{{- if include "ebpf-otel-agent.network" . }}
{{- $caps = append $caps "NET_ADMIN" }}
{{- end }}
{{- /* tc's pods: opening another pod's /proc/<pid>/ns/net is a ptrace-mode access to that pod's processes. */}}
{{- if has "pods" .Values.tc.interfaces }}
{{- $caps = append $caps "SYS_PTRACE" }}
{{- end }}
{{- toYaml $caps }}
{{- end }}

{{- define "ebpf-otel-agent.ruleSelector" -}}
{{- .Values.prometheusRule.selector | default (printf "job=%q,namespace=%q" (include "ebpf-otel-agent.name" .) (include "ebpf-otel-agent.namespace" .)) }}
{{- end }}
