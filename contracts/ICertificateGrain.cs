namespace CmpCluster.Contracts;

/// <summary>
/// One certificate (key: <see cref="GrainKeys.Certificate"/>): intent → issued → confirmed | revoked.
/// Single activation plus the storage ETag make "a serial is never reused" hold across the cluster.
/// </summary>
[Alias("CmpCluster.ICertificateGrain")]
public interface ICertificateGrain : IGrainWithStringKey
{
    /// <summary>Records the intent to issue under this serial; false when the serial already has a record.</summary>
    [Alias("Reserve")]
    Task<bool> ReserveAsync(CertificateIntent intent);

    /// <summary>Stores the signed certificate; it now awaits confirmation (or is confirmed at once).</summary>
    [Alias("StoreIssued")]
    Task StoreIssuedAsync(byte[] certificateDer, bool confirmed);

    [Alias("Confirm")]
    Task<CertificateStatus> ConfirmAsync();

    /// <summary>
    /// Revokes an issued certificate exactly once (time, reason and cause recorded and audited), or takes a
    /// certificateHold off with <see cref="RevocationReason.RemoveFromCrl"/>. The CA's CRL follows.
    /// </summary>
    [Alias("Revoke")]
    Task<RevocationResult> RevokeAsync(RevocationRequest request);

    [Alias("Get")]
    Task<CertificateRecord?> GetAsync();
}

/// <summary>What a revocation asks for. <see cref="Cause"/> is for the audit log (never client text).</summary>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.RevocationRequest")]
public sealed record RevocationRequest(
    [property: Id(0)] RevocationReason Reason,
    [property: Id(1)] string Cause,
    [property: Id(2)] DateTimeOffset? InvalidityDate = null);

public enum RevocationResult
{
    /// <summary>Revoked now.</summary>
    Revoked = 0,
    /// <summary>It was revoked before (seed: certRevoked); nothing changed.</summary>
    AlreadyRevoked = 1,
    /// <summary>No issued certificate has this serial (unknown, or reserved and never signed): badCertId.</summary>
    NotIssued = 2,
    /// <summary>removeFromCRL took a certificateHold off: the certificate is valid again.</summary>
    Released = 3,
    /// <summary>removeFromCRL for a certificate that is not on hold.</summary>
    NotOnHold = 4,
}

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
    [property: Id(7)] string? Profile = null);

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
