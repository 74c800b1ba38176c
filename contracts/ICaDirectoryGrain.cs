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
/// <c>created</c> / <c>imported</c> through the admin API; never a key.</summary>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.CaInfo")]
public sealed record CaInfo(
    [property: Id(0)] string Name,
    [property: Id(1)] string SubjectDn,
    [property: Id(2)] byte[] CertificateDer,
    [property: Id(3)] IReadOnlyList<byte[]> ChainDer,
    [property: Id(4)] DateTimeOffset NotAfter,
    [property: Id(5)] bool Enabled = true,
    [property: Id(6)] string Origin = CaInfo.Settings)
{
    public const string Settings = "settings";
}
