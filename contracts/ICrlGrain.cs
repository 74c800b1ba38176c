namespace CmpCluster.Contracts;

/// <summary>
/// Gateway-facing, read-only: a CA's current CRL (key: <see cref="GrainKeys.CertificateAuthority"/>). The same activation
/// as the silo-internal CA grain that issues CRLs; this interface can only read.
/// </summary>
[Alias("CmpCluster.ICrlGrain")]
public interface ICrlGrain : IGrainWithStringKey
{
    /// <summary>The current CRL; one is issued first when there is none or it is past its nextUpdate.</summary>
    [Alias("GetCrl")]
    Task<CrlInfo> GetCrlAsync();
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
/// Gateway-facing. The OCSP responder (RFC 6960), a stateless worker in every silo (key: <see cref="GrainKeys.OcspResponder"/>):
/// takes a DER OCSPRequest and returns a DER OCSPResponse, signed in the silo where the keys are.
/// </summary>
[Alias("CmpCluster.IOcspResponderGrain")]
public interface IOcspResponderGrain : IGrainWithStringKey
{
    [Alias("Respond")]
    Task<byte[]> RespondAsync(byte[] requestDer);
}
