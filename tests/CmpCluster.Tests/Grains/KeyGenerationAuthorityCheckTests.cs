using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CmpCluster.Grains.Pki;
using CmpCluster.Protocol.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using CmpCluster.Fuzz.Harness;
using Xunit;

namespace CmpCluster.Tests.Grains;

/// <summary>The start-up warning for a CMP signer without id-kp-cmKGA on a CA whose alias offers server-generated keys.</summary>
public sealed class KeyGenerationAuthorityCheckTests
{
    private static KeyGenerationAuthorityCheck Check(PkiKeyRing keys, bool serverKeys)
    {
        var options = new CmpOptions();
        options.Aliases["ra"] = new CmpAliasOptions { Secret = "s", AllowServerGeneratedKeys = serverKeys };
        return new KeyGenerationAuthorityCheck(keys, new FixedOptionsMonitor<CmpOptions>(options), NullLogger<KeyGenerationAuthorityCheck>.Instance);
    }

    [Fact]
    public void The_development_signer_is_marked_and_an_unmarked_one_is_named_only_where_server_keys_are_offered()
    {
        CertificateAuthorityKeys marked = TestPki.KeyRing.Authorities.First();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using X509Certificate2 plain = new CertificateRequest("CN=old signer", key, HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        var unmarked = new PkiKeyRing([new CertificateAuthorityKeys(marked.Ca, new KeyHolder(marked.Name + "/cmp", key, plain.RawData), marked.OcspSigner, marked.Root)]);

        Assert.Empty(Check(TestPki.KeyRing, serverKeys: true).Unmarked());
        Assert.Equal([marked.Name], Check(unmarked, serverKeys: true).Unmarked());
        Assert.Empty(Check(unmarked, serverKeys: false).Unmarked());
    }
}
