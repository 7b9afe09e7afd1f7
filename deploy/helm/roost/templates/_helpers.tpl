{{/* The release's resource names: the release name, with the chart's unless it holds it. */}}
{{- define "roost.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The headless Service the pods find each other through. */}}
{{- define "roost.peers" -}}
{{- include "roost.fullname" . }}-peers
{{- end -}}

{{- define "roost.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "roost.labels" -}}
{{ include "roost.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The scheme the HTTP listener speaks. */}}
{{- define "roost.scheme" -}}
{{- if .Values.clientTls.secretName }}HTTPS{{ else }}HTTP{{ end -}}
{{- end -}}

{{/*
Every member, in TOML's inline syntax (ROOST_MEMBERS): node N is pod N-1, reached by its
stable name in the headless Service.
*/}}
{{- define "roost.members" -}}
{{- $fullname := include "roost.fullname" . -}}
{{- $peers := include "roost.peers" . -}}
{{- $members := list -}}
{{- range $i := until (int .Values.replicas) -}}
{{- $host := printf "%s-%d.%s" $fullname $i $peers -}}
{{- $members = append $members (printf "{id=%d,peer_addr=\"%s:%d\",http_addr=\"%s:%d\"}" (add1 $i) $host (int $.Values.ports.peer) $host (int $.Values.ports.http)) -}}
{{- end -}}
[{{ join ", " $members }}]
{{- end -}}

{{/* The peer TLS Secret's name. */}}
{{- define "roost.peerTlsSecret" -}}
{{- .Values.peerTls.secretName | default (printf "%s-peer-tls" (include "roost.fullname" .)) -}}
{{- end -}}
