{{/*
Relabelings shared by the PodMonitor and the ServiceMonitor: every target is named after its node (instance, as the
dashboards' instance variable shows, and node), then the user's own.
*/}}
{{- define "ebpf-otel-agent.relabelings" -}}
- sourceLabels: [__meta_kubernetes_pod_node_name]
  targetLabel: instance
- sourceLabels: [__meta_kubernetes_pod_node_name]
  targetLabel: node
{{- with .relabelings }}
{{ toYaml . }}
{{- end }}
{{- end }}
