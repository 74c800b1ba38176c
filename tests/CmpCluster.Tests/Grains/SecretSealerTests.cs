using CmpCluster.Grains.EndEntities;
using CmpCluster.Grains.Pki;
using Microsoft.Extensions.Options;
using Xunit;

namespace CmpCluster.Tests.Grains;

/// <summary>Enrollment codes are sealed at rest, bound to their end entity and to the CA passphrase.</summary>
public sealed class SecretSealerTests
{
    private static readonly SecretSealer Sealer = new(Options.Create(new PkiOptions { Passphrase = "passphrase-one" }));

    [Fact]
    public void A_sealed_code_opens_only_for_its_end_entity()
    {
        string sealedCode = Sealer.Seal("one-time-code-42", "gnb-42");

        Assert.DoesNotContain("one-time-code-42", sealedCode);
        Assert.Equal("one-time-code-42", Sealer.Unseal(sealedCode, "gnb-42"));
        Assert.Null(Sealer.Unseal(sealedCode, "gnb-43"));
    }

    [Fact]
    public void Sealing_twice_gives_different_ciphertexts_and_another_passphrase_cannot_open_them()
    {
        string first = Sealer.Seal("code", "u");
        string second = Sealer.Seal("code", "u");
        var other = new SecretSealer(Options.Create(new PkiOptions { Passphrase = "passphrase-two" }));

        Assert.NotEqual(first, second);
        Assert.Null(other.Unseal(first, "u"));
        Assert.Null(Sealer.Unseal("plain-text-code", "u"));
    }
}
