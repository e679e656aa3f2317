{{- /* Blue-green colors are separate releases (<release>-blue, <release>-green), so the
release name alone keeps every object name unique. */ -}}
{{- define "tenant-app.fullname" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tenant-app.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- with .Values.color }}
color: {{ . }}
{{- end }}
{{- end -}}

{{- define "tenant-app.labels" -}}
{{ include "tenant-app.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.tenant.slug }}
dotmac.io/tenant: {{ . }}
{{- end }}
{{- end -}}

{{- define "tenant-app.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
{{- end -}}
