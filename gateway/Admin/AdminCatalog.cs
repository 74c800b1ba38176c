using CmpCluster.Contracts;
using CmpCluster.Protocol.Configuration;

namespace CmpCluster.Gateway.Admin;

/// <summary>What a registration may name: the cluster's CAs (asked once per request) and the configured certificate profiles.</summary>
public sealed class AdminCatalog(IReadOnlyList<CaInfo> cas, IReadOnlyDictionary<string, CertificateProfileOptions> profiles)
{
    /// <summary>Any key reaches the stateless directory; one name keeps activations predictable.</summary>
    public const string DirectoryKey = "all";

    public IReadOnlyList<CaInfo> Cas { get; } = cas;

    public bool IsKnownCa(string name) => Cas.Any(c => c.Name == name);

    public bool IsKnownCertificateProfile(string name) => profiles.ContainsKey(name);

    public static async Task<AdminCatalog> LoadAsync(IGrainFactory grains, CmpOptions options) =>
        new(await grains.GetGrain<ICaDirectoryGrain>(DirectoryKey).ListAsync(), options.Profiles);
}
