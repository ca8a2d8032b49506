{{/*
The labels every pod of a program carries, as in k8s/: `app` (what its Service selects) and
the recommended ones. Pod templates carry only these: a chart or release label there would
restart every pod on each upgrade, and a version label would go stale under `kubectl set image`.
Takes a list: the program's name and its component.
*/}}
{{- define "voting-app.podLabels" -}}
app: {{ index . 0 }}
app.kubernetes.io/name: {{ index . 0 }}
app.kubernetes.io/part-of: voting-app
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/*
Helm's own labels, on the objects' metadata only (the comparison with k8s/ leaves them out).
*/}}
{{- define "voting-app.helmLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
A program's objects' labels. Takes a dict: root (the chart's context), name and component.
*/}}
{{- define "voting-app.labels" -}}
{{ include "voting-app.podLabels" (list .name .component) }}
{{ include "voting-app.helmLabels" .root }}
{{- end }}

{{/*
The labels of the objects that belong to the whole app rather than one program.
*/}}
{{- define "voting-app.appLabels" -}}
app.kubernetes.io/part-of: voting-app
{{ include "voting-app.helmLabels" . }}
{{- end }}

{{/*
One of our images: <registry>/<repository>/<program>:<tag>. Takes a list: the chart's context,
the program and the program's own tag ("" for image.tag, else the chart's appVersion).
*/}}
{{- define "voting-app.image" -}}
{{- $root := index . 0 -}}
{{- $image := $root.Values.image -}}
{{- $tag := index . 2 | default $image.tag | default $root.Chart.AppVersion -}}
{{- if $image.registry }}{{ $image.registry }}/{{ end }}{{ $image.repository }}/{{ index . 1 }}:{{ $tag }}
{{- end }}

{{/*
A backing service's image: [registry/]repository:tag.
*/}}
{{- define "voting-app.serviceImage" -}}
{{- if .registry }}{{ .registry }}/{{ end }}{{ .repository }}:{{ .tag }}
{{- end }}

{{/*
The pull secrets of every pod, when there are any.
*/}}
{{- define "voting-app.pullSecrets" -}}
{{- with .Values.image.pullSecrets -}}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
The Secret holding the database password, and its key.
*/}}
{{- define "voting-app.passwordSecret" -}}
{{- .Values.database.password.existingSecret | default "db-password" }}
{{- end }}

{{- define "voting-app.passwordKey" -}}
{{- if .Values.database.password.existingSecret }}{{ .Values.database.password.existingSecretKey }}{{ else }}password{{ end }}
{{- end }}

{{/*
The password file's volume, mounted by PostgreSQL, the worker and result.
*/}}
{{- define "voting-app.passwordVolume" -}}
- name: db-password
  secret:
    secretName: {{ include "voting-app.passwordSecret" . }}
    defaultMode: 0440
    items:
      - key: {{ include "voting-app.passwordKey" . }}
        path: password
{{- end }}

{{/*
Refuses a URL that carries a password: it would sit in the ConfigMap, readable by anyone who
can read the namespace's settings. Takes a list: the URL and the value's name.
*/}}
{{- define "voting-app.noPasswordInUrl" -}}
{{- if regexMatch "^[a-z]+://[^/@]*:[^/@]*@" (index . 0) }}
{{- fail (printf "%s holds a password: put it in a Secret instead (see values.yaml)" (index . 1)) }}
{{- end }}
{{- end }}

{{/*
REDIS_URL for vote and the worker: from the ConfigMap, or from the Secret holding the external
Redis's URL.
*/}}
{{- define "voting-app.redisUrl" -}}
- name: REDIS_URL
  valueFrom:
  {{- if and (not .Values.redis.enabled) .Values.externalRedis.existingSecret }}
    secretKeyRef: {name: {{ .Values.externalRedis.existingSecret }}, key: {{ .Values.externalRedis.existingSecretKey }}}
  {{- else }}
    configMapKeyRef: {name: settings, key: REDIS_URL}
  {{- end }}
{{- end }}

{{/*
The Deployment annotations of vote and the worker when REDIS_URL comes from a Secret: checkov
prefers secrets as files, but the programs read REDIS_URL only from the environment.
*/}}
{{- define "voting-app.redisUrlAnnotations" -}}
{{- if and (not .Values.redis.enabled) .Values.externalRedis.existingSecret -}}
annotations:
  checkov.io/skip1: CKV_K8S_35=REDIS_URL holds the Redis password and is read from the environment
{{- end }}
{{- end }}

{{/*
The name kustomize's configMapGenerator gives a ConfigMap: its name, a dash and a hash of its
data, so that the chart's objects are the component's and a change of content rolls the pods
that mount it. The hash is kustomize's (5.x): SHA-256 of the JSON of kind, data and an empty
name, its first ten hex digits with 0, 1, 3, a and e turned into g, h, k, m and t. Takes a
dict: name and data.
*/}}
{{- define "voting-app.generatedName" -}}
{{- $hash := dict "kind" "ConfigMap" "name" "" "data" .data | toJson | sha256sum | trunc 10 -}}
{{ .name }}-{{ $hash | replace "0" "g" | replace "1" "h" | replace "3" "k" | replace "a" "m" | replace "e" "t" }}
{{- end }}

{{/*
The scrape annotations of a program's pods, with monitoring on: what a Prometheus without the
operator discovers them by (k8s/components/monitoring/annotations). Takes a list: the chart's
context and the port.
*/}}
{{- define "voting-app.scrapeAnnotations" -}}
{{- if (index . 0).Values.monitoring.enabled -}}
annotations:
  prometheus.io/scrape: "true"
  prometheus.io/port: {{ index . 1 | quote }}
  prometheus.io/path: /metrics
{{- end }}
{{- end }}
