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

    [Alias("Revoke")]
    Task<CertificateStatus> RevokeAsync(RevocationReason reason, string cause);

    [Alias("Get")]
    Task<CertificateRecord?> GetAsync();
}

[GenerateSerializer, Immutable]
[Alias("CmpCluster.CertificateIntent")]
public sealed record CertificateIntent(
    [property: Id(0)] string Ca,
    [property: Id(1)] string SerialHex,
    [property: Id(2)] string SubjectDn,
    [property: Id(3)] string Owner,
    [property: Id(4)] string TransactionKey,
    [property: Id(5)] DateTimeOffset RequestedAt);

[GenerateSerializer, Immutable]
[Alias("CmpCluster.CertificateRecord")]
public sealed record CertificateRecord(
    [property: Id(0)] CertificateIntent Intent,
    [property: Id(1)] CertificateStatus Status,
    [property: Id(2)] byte[]? Der,
    [property: Id(3)] RevocationReason? RevocationReason,
    [property: Id(4)] DateTimeOffset? RevokedAt,
    [property: Id(5)] string? RevocationCause);
