namespace CmpCluster.Contracts;

/// <summary>
/// One CA's revocation publishing (key: <see cref="GrainKeys.CertificateAuthority"/>): the CRL number, the set of
/// certificates that were ever revoked (keys only: each entry is read from its certificate grain when a CRL is built,
/// so the CRL cannot drift from the certificates' own state), and the current CRL.
/// </summary>
[Alias("CmpCluster.ICertificateAuthorityGrain")]
public interface ICertificateAuthorityGrain : IGrainWithStringKey
{
    /// <summary>
    /// Called by a certificate grain before it writes a revocation (or a hold release): the serial is remembered
    /// durably first, so a crash between the two writes can only leave an extra entry to read, never a missing one.
    /// </summary>
    /// <remarks>Interleaves: the CA grain may be reading this certificate's grain for a CRL at the same moment.</remarks>
    [Alias("TrackRevocation")]
    [Orleans.Concurrency.AlwaysInterleave]
    Task TrackRevocationAsync(string serialHex);

    /// <summary>Called after the certificate's revocation state was written: a new CRL is issued soon (debounced).</summary>
    [Alias("RevocationChanged")]
    [Orleans.Concurrency.AlwaysInterleave]
    Task RevocationChangedAsync(string serialHex);

    /// <summary>The current CRL; one is issued first when there is none or it is past its nextUpdate.</summary>
    [Alias("GetCrl")]
    Task<CrlInfo> GetCrlAsync();

    /// <summary>Issues a new CRL now (admin, tests).</summary>
    [Alias("IssueCrl")]
    Task<CrlInfo> IssueCrlAsync();

    /// <summary>Makes sure the durable schedule that renews the CRL before nextUpdate exists (called at silo start).</summary>
    [Alias("EnsureScheduled")]
    Task EnsureScheduledAsync();
}

/// <summary>A signed CRL (DER) and the facts about it.</summary>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.CrlInfo")]
public sealed record CrlInfo(
    [property: Id(0)] byte[] Der,
    [property: Id(1)] long Number,
    [property: Id(2)] DateTimeOffset ThisUpdate,
    [property: Id(3)] DateTimeOffset NextUpdate,
    [property: Id(4)] int RevokedCount);

/// <summary>
/// The OCSP responder (RFC 6960), a stateless worker in every silo (key: <see cref="GrainKeys.OcspResponder"/>):
/// takes a DER OCSPRequest and returns a DER OCSPResponse, signed in the silo where the keys are.
/// </summary>
[Alias("CmpCluster.IOcspResponderGrain")]
public interface IOcspResponderGrain : IGrainWithStringKey
{
    [Alias("Respond")]
    Task<byte[]> RespondAsync(byte[] requestDer);
}
