namespace CmpCluster.Contracts;

[GenerateSerializer, Immutable]
[Alias("CmpCluster.CertificateIntent")]
public sealed record CertificateIntent(
    [property: Id(0)] string Ca,
    [property: Id(1)] string SerialHex,
    [property: Id(2)] string SubjectDn,
    [property: Id(3)] string Owner,
    [property: Id(4)] string TransactionKey,
    [property: Id(5)] DateTimeOffset RequestedAt,
    /// <summary>The end entity the certificate belongs to (null for certificates issued before this was recorded).</summary>
    [property: Id(6)] string? EndEntity = null,
    /// <summary>The certificate profile it was issued under (its revocation policy, e.g. certificateHold, comes from it).</summary>
    [property: Id(7)] string? Profile = null,
    /// <summary>SHA-256 of the DER SubjectPublicKeyInfo to be certified: the signature is bound to this key.</summary>
    [property: Id(8)] byte[]? PublicKeyHash = null,
    /// <summary>
    /// A certificate that awaits confirmation with a deadline of its own: the store indexes it with the record, and a
    /// certificate nobody confirmed by then is revoked even when its transaction was never stored (a crash after signing).
    /// </summary>
    [property: Id(9)] DateTimeOffset? ConfirmBy = null);

[GenerateSerializer, Immutable]
[Alias("CmpCluster.CertificateRecord")]
public sealed record CertificateRecord(
    [property: Id(0)] CertificateIntent Intent,
    [property: Id(1)] CertificateStatus Status,
    [property: Id(2)] byte[]? Der,
    [property: Id(3)] RevocationReason? RevocationReason,
    [property: Id(4)] DateTimeOffset? RevokedAt,
    [property: Id(5)] string? RevocationCause,
    [property: Id(6)] DateTimeOffset? InvalidityDate = null);
