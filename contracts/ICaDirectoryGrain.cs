namespace CmpCluster.Contracts;

/// <summary>The CAs this cluster runs, with their public certificates (any key; a stateless worker in every silo).</summary>
[Alias("CmpCluster.ICaDirectoryGrain")]
public interface ICaDirectoryGrain : IGrainWithStringKey
{
    [Alias("List")]
    Task<IReadOnlyList<CaInfo>> ListAsync();
}

/// <summary>A CA's name, its certificate and its chain up to the root (DER, issuing CA first), whether it issues new
/// certificates (an operator may disable it through the admin API), and where it comes from: <c>settings</c>, or
/// <c>created</c> / <c>imported</c> through the admin API; the generation of its current key and its retired keys
/// (<c>pki renew-ca --new-key</c>); never a key.</summary>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.CaInfo")]
public sealed record CaInfo(
    [property: Id(0)] string Name,
    [property: Id(1)] string SubjectDn,
    [property: Id(2)] byte[] CertificateDer,
    [property: Id(3)] IReadOnlyList<byte[]> ChainDer,
    [property: Id(4)] DateTimeOffset NotAfter,
    [property: Id(5)] bool Enabled = true,
    [property: Id(6)] string Origin = CaInfo.Settings,
    [property: Id(7)] int KeyGeneration = 0,
    [property: Id(8)] IReadOnlyList<RetiredCaKeyInfo>? RetiredKeys = null)
{
    public const string Settings = "settings";
}

/// <summary>
/// A key the CA issued with before a renewal with a new key: still signing the CRL (<see cref="CrlNames"/>) and the OCSP
/// answers of the certificates it signed, until <paramref name="NotAfter"/>, the end of its CA certificate.
/// </summary>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.RetiredCaKeyInfo")]
public sealed record RetiredCaKeyInfo(
    [property: Id(0)] int Generation,
    [property: Id(1)] byte[] CertificateDer,
    [property: Id(2)] DateTimeOffset NotAfter);
