//! `wasi:http/types@0.3.0` `error-code`s as the WIT spells them.

use p3_http_support::wasi::http::types::ErrorCode;

/// The case's WIT name, e.g. `HTTP-request-denied`; a payload that is a
/// message or a number follows after `: `.
pub fn text(error: &ErrorCode) -> String {
    let (name, detail): (&str, Option<String>) = match error {
        ErrorCode::DnsTimeout => ("DNS-timeout", None),
        ErrorCode::DnsError(payload) => ("DNS-error", payload.rcode.clone()),
        ErrorCode::DestinationNotFound => ("destination-not-found", None),
        ErrorCode::DestinationUnavailable => ("destination-unavailable", None),
        ErrorCode::DestinationIpProhibited => ("destination-IP-prohibited", None),
        ErrorCode::DestinationIpUnroutable => ("destination-IP-unroutable", None),
        ErrorCode::ConnectionRefused => ("connection-refused", None),
        ErrorCode::ConnectionTerminated => ("connection-terminated", None),
        ErrorCode::ConnectionTimeout => ("connection-timeout", None),
        ErrorCode::ConnectionReadTimeout => ("connection-read-timeout", None),
        ErrorCode::ConnectionWriteTimeout => ("connection-write-timeout", None),
        ErrorCode::ConnectionLimitReached => ("connection-limit-reached", None),
        ErrorCode::TlsProtocolError => ("TLS-protocol-error", None),
        ErrorCode::TlsCertificateError => ("TLS-certificate-error", None),
        ErrorCode::TlsAlertReceived(payload) => {
            ("TLS-alert-received", payload.alert_message.clone())
        }
        ErrorCode::HttpRequestDenied => ("HTTP-request-denied", None),
        ErrorCode::HttpRequestLengthRequired => ("HTTP-request-length-required", None),
        ErrorCode::HttpRequestBodySize(size) => ("HTTP-request-body-size", number(size)),
        ErrorCode::HttpRequestMethodInvalid => ("HTTP-request-method-invalid", None),
        ErrorCode::HttpRequestUriInvalid => ("HTTP-request-URI-invalid", None),
        ErrorCode::HttpRequestUriTooLong => ("HTTP-request-URI-too-long", None),
        ErrorCode::HttpRequestHeaderSectionSize(size) => {
            ("HTTP-request-header-section-size", number(size))
        }
        ErrorCode::HttpRequestHeaderSize(payload) => (
            "HTTP-request-header-size",
            payload.as_ref().and_then(|p| p.field_name.clone()),
        ),
        ErrorCode::HttpRequestTrailerSectionSize(size) => {
            ("HTTP-request-trailer-section-size", number(size))
        }
        ErrorCode::HttpRequestTrailerSize(payload) => {
            ("HTTP-request-trailer-size", payload.field_name.clone())
        }
        ErrorCode::HttpResponseIncomplete => ("HTTP-response-incomplete", None),
        ErrorCode::HttpResponseHeaderSectionSize(size) => {
            ("HTTP-response-header-section-size", number(size))
        }
        ErrorCode::HttpResponseHeaderSize(payload) => {
            ("HTTP-response-header-size", payload.field_name.clone())
        }
        ErrorCode::HttpResponseBodySize(size) => ("HTTP-response-body-size", number(size)),
        ErrorCode::HttpResponseTrailerSectionSize(size) => {
            ("HTTP-response-trailer-section-size", number(size))
        }
        ErrorCode::HttpResponseTrailerSize(payload) => {
            ("HTTP-response-trailer-size", payload.field_name.clone())
        }
        ErrorCode::HttpResponseTransferCoding(coding) => {
            ("HTTP-response-transfer-coding", coding.clone())
        }
        ErrorCode::HttpResponseContentCoding(coding) => {
            ("HTTP-response-content-coding", coding.clone())
        }
        ErrorCode::HttpResponseTimeout => ("HTTP-response-timeout", None),
        ErrorCode::HttpUpgradeFailed => ("HTTP-upgrade-failed", None),
        ErrorCode::HttpProtocolError => ("HTTP-protocol-error", None),
        ErrorCode::LoopDetected => ("loop-detected", None),
        ErrorCode::ConfigurationError => ("configuration-error", None),
        ErrorCode::InternalError(message) => ("internal-error", message.clone()),
    };
    match detail {
        Some(detail) => format!("{name}: {detail}"),
        None => name.to_string(),
    }
}

fn number(size: &Option<impl ToString>) -> Option<String> {
    size.as_ref().map(ToString::to_string)
}
