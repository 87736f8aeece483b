{{/* The labels every object of the release carries. */}}
{{- define "contiv.labels" -}}
app.kubernetes.io/name: contiv-vpp
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "contiv.image" -}}
{{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}
{{- end }}

{{/* Whether the agents use an etcd at all. */}}
{{- define "contiv.etcd.used" -}}
{{- if or .Values.etcd.deploy .Values.etcd.endpoints }}true{{ end }}
{{- end }}

{{/* https when TLS is on. */}}
{{- define "contiv.etcd.scheme" -}}
{{- if .Values.etcd.tls.enabled }}https{{ else }}http{{ end }}
{{- end }}

{{/* The mount of the etcd Secret, the original's path. */}}
{{- define "contiv.etcd.secretsDir" -}}/var/contiv/etcd-secrets{{- end }}

{{/* Where contiv-cni queues a DEL while the agent cannot take it, and the agent drains it: beside the CNI
socket, in the host directory the agent mounts for it (both are told, so that both agree). */}}
{{- define "contiv.delQueueDir" -}}
{{ printf "%s/cni-del-queue" (dir .Values.agent.cniSocket) }}
{{- end }}

{{/* The conflist the init container installs. */}}
{{- define "contiv.conflist" -}}
{{- $contiv := dict "type" "contiv-cni" "grpcServer" .Values.agent.cniSocket "grpcTimeout" .Values.cni.grpcTimeout -}}
{{- $_ := set $contiv "delQueueDir" (include "contiv.delQueueDir" .) -}}
{{- if .Values.cni.logFile }}{{ $_ := set $contiv "logFile" .Values.cni.logFile }}{{ end -}}
{{- $plugins := list $contiv -}}
{{- if .Values.cni.portmap -}}
{{- $plugins = append $plugins (dict "type" "portmap" "capabilities" (dict "portMappings" true) "externalSetMarkChain" "KUBE-MARK-MASQ") -}}
{{- end -}}
{{- dict "cniVersion" "1.0.0" "name" "k8s-pod-network" "plugins" $plugins | toPrettyJson }}
{{- end }}
