{{/* The base name of everything the chart creates. */}}
{{- define "execgov.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "execgov.labels" -}}
app.kubernetes.io/name: {{ default .Chart.Name .Values.nameOverride }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component (webhook or operator): call with (list $ "webhook"). */}}
{{- define "execgov.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ default $.Chart.Name $.Values.nameOverride }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "execgov.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end -}}

{{- define "execgov.ledgerURL" -}}
{{- default (printf "configmap://%s" .Release.Namespace) .Values.ledger.url -}}
{{- if .Values.ledger.etcdTLS.secretName -}}
?cacert=/etc/execgov/ledger-etcd/ca.crt&cert=/etc/execgov/ledger-etcd/tls.crt&key=/etc/execgov/ledger-etcd/tls.key
{{- end -}}
{{- end -}}

{{- define "execgov.ledgerSecret" -}}
{{- default (printf "%s-ledger-key" (include "execgov.fullname" .)) .Values.ledger.existingSecret -}}
{{- end -}}

{{- define "execgov.webhookService" -}}{{ include "execgov.fullname" . }}-webhook{{- end -}}
{{- define "execgov.caSecret" -}}{{ include "execgov.fullname" . }}-webhook-ca{{- end -}}
{{- define "execgov.tlsSecret" -}}{{ include "execgov.fullname" . }}-webhook-tls{{- end -}}
{{- define "execgov.webhookSA" -}}{{ include "execgov.fullname" . }}-webhook{{- end -}}
{{- define "execgov.operatorSA" -}}{{ include "execgov.fullname" . }}-operator{{- end -}}

{{/* Volumes and mounts both Deployments share: the ledger key and a writable /tmp. */}}
{{- define "execgov.commonVolumes" -}}
- name: ledger-key
  secret:
    secretName: {{ include "execgov.ledgerSecret" . }}
    defaultMode: 0400
    items:
    - key: {{ .Values.ledger.secretKey }}
      path: ledger.key
- name: tmp
  emptyDir: {}
{{- with include "execgov.ledgerEtcdVolume" . }}
{{ . }}
{{- end }}
{{- end -}}
{{- define "execgov.commonMounts" -}}
- name: ledger-key
  mountPath: /etc/execgov/ledger
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- with include "execgov.ledgerEtcdMount" . }}
{{ . }}
{{- end }}
{{- end -}}
{{/* The client certificate and CA of an etcds:// ledger (ledger.etcdTLS), for
     every component that opens the ledger; empty without it. */}}
{{- define "execgov.ledgerEtcdVolume" -}}
{{- with .Values.ledger.etcdTLS.secretName -}}
- name: ledger-etcd
  secret:
    secretName: {{ . }}
    defaultMode: 0400
    items:
    - {key: ca.crt, path: ca.crt}
    - {key: tls.crt, path: tls.crt}
    - {key: tls.key, path: tls.key}
{{- end -}}
{{- end -}}
{{- define "execgov.ledgerEtcdMount" -}}
{{- if .Values.ledger.etcdTLS.secretName -}}
- name: ledger-etcd
  mountPath: /etc/execgov/ledger-etcd
  readOnly: true
{{- end -}}
{{- end -}}

{{/* Refuses values that would make an unsafe or broken install. */}}
{{- define "execgov.validate" -}}
{{- if not (has .Values.certificates.mode (list "operator" "helm" "certManager")) -}}
{{- fail (printf "certificates.mode must be operator, helm or certManager, not %q" .Values.certificates.mode) -}}
{{- end -}}
{{- if and (not .Values.ledger.existingSecret) (not .Values.ledger.generate) -}}
{{- fail "ledger: set existingSecret to a Secret holding the Ed25519 ledger key, or generate: true" -}}
{{- end -}}
{{- if .Values.ledger.etcdTLS.secretName -}}
{{- if not (hasPrefix "etcds://" .Values.ledger.url) -}}
{{- fail (printf "ledger.etcdTLS.secretName is for a ledger on an etcd reached over TLS: set ledger.url to etcds://HOST:PORT[/prefix], not %q" .Values.ledger.url) -}}
{{- end -}}
{{- if contains "?" .Values.ledger.url -}}
{{- fail "ledger.url: leave out ?cacert=, cert= and key= when ledger.etcdTLS.secretName is set; the chart adds them" -}}
{{- end -}}
{{- end -}}
{{- if lt (int .Values.webhook.replicas) 1 -}}
{{- fail "webhook.replicas must be at least 1 (failurePolicy is Fail)" -}}
{{- end -}}
{{- if gt (int .Values.webhook.admission.timeoutSeconds) 15 -}}
{{- fail "webhook.admission.timeoutSeconds must be at most 15, well under the API server's deadline" -}}
{{- end -}}
{{- end -}}
