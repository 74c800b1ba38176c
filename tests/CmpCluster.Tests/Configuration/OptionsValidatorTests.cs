using CmpCluster.Gateway.Hosting;
using CmpCluster.Gateway.RateLimiting;
using CmpCluster.Gateway.Tcp;
using CmpCluster.Grains;
using CmpCluster.Grains.Audit;
using CmpCluster.Grains.Pki;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Silo;
using Microsoft.Extensions.Options;
using Xunit;

namespace CmpCluster.Tests.Configuration;

/// <summary>
/// A setting's range is its [Range] attribute, stated once and checked at start by the section's validator
/// (OptionAnnotations), with a message that names the key: limits the silo and the gateway both read, options nested in
/// dictionaries (profiles, an alias's MAC floors) and nested sections (Pki:Ocsp) included.
/// </summary>
public sealed class OptionsValidatorTests
{
    private static CmpOptions ValidCmp() => new()
    {
        Aliases = { ["ra"] = new CmpAliasOptions { Secret = "s3cret-for-tests" } },
        Profiles = { ["default"] = new CertificateProfileOptions() },
    };

    private static ValidateOptionsResult Silo(CmpOptions options) =>
        new CmpOptionsValidator(Options.Create(new PkiOptions())).Validate(null, options);

    [Theory]
    [InlineData("Cmp:Limits:MaxMessageBytes must be 1024 .. 16777216")]
    [InlineData("Cmp:Limits:MaxExtraCerts must be 0 .. 64")]
    [InlineData("Cmp:Profiles:default:ValidityDays must be 1 .. 36500")]
    [InlineData("Cmp:Aliases:ra:MacProtection:MinSaltBytes must be 8 .. 64")]
    public void A_setting_out_of_its_range_is_refused_naming_the_key(string expected)
    {
        CmpOptions options = ValidCmp();
        switch (expected.Split(' ')[0])
        {
            case "Cmp:Limits:MaxMessageBytes": options.Limits.MaxMessageBytes = 10; break;
            case "Cmp:Limits:MaxExtraCerts": options.Limits.MaxExtraCerts = 65; break;
            case "Cmp:Profiles:default:ValidityDays": options.Profiles["default"].ValidityDays = 0; break;
            case "Cmp:Aliases:ra:MacProtection:MinSaltBytes": options.Aliases["ra"].MacProtection = new MacProtectionOptions { MinSaltBytes = 4 }; break;
        }

        ValidateOptionsResult result = Silo(options);

        Assert.True(result.Failed);
        Assert.Equal([expected], result.Failures);
        Assert.True(Silo(ValidCmp()).Succeeded);
    }

    [Fact]
    public void The_gateway_checks_the_same_limits_with_the_same_message()
    {
        CmpOptions options = ValidCmp();
        options.Limits.MaxDerDepth = 300;

        ValidateOptionsResult gateway = new GatewayCmpOptionsValidator().Validate(null, options);

        Assert.Equal(["Cmp:Limits:MaxDerDepth must be 8 .. 256"], gateway.Failures);
        Assert.Equal(gateway.Failures, Silo(options).Failures);
    }

    [Fact]
    public void Cross_setting_rules_stay_in_the_validators()
    {
        CmpOptions options = ValidCmp();
        options.Limits.MinPbmIterations = 200_000;

        Assert.Equal(["Cmp:Limits:MinPbmIterations must not exceed Cmp:Limits:MaxPbmIterations"], Silo(options).Failures);
    }

    [Fact]
    public void Every_section_names_its_keys()
    {
        var pki = new PkiOptions { CaName = "not a name", RootValidityYears = 0 };
        pki.Crl.Validity = TimeSpan.FromDays(400);
        var node = new NodeOptions { SiloPort = 0 };
        var audit = new AuditOptions { CheckpointInterval = TimeSpan.Zero };
        var tcp = new TcpOptions { Port = 70_000 };
        var limits = new RateLimitOptions();
        limits.PerAlias.ConcurrencyLimit = 0;

        Assert.Equal(
            ["Pki:CaName must match ^[A-Za-z0-9_-]{1,64}$", "Pki:RootValidityYears must be 1 .. 50", "Pki:Crl:Validity must be 00:01:00 .. 366.00:00:00"],
            new PkiOptionsValidator().Validate(null, pki).Failures);
        Assert.Equal(["Node:SiloPort must be 1 .. 65535"], new NodeOptionsValidator().Validate(null, node).Failures);
        Assert.Equal(["Audit:CheckpointInterval must be 00:00:01 .. 1.00:00:00"], new AuditOptionsValidator().Validate(null, audit).Failures);
        Assert.Equal(["Tcp:Port must be 1 .. 65535"], new TcpOptionsValidator(Options.Create(ValidCmp())).Validate(null, tcp).Failures!
            .Where(f => !f.StartsWith("Tcp:Alias", StringComparison.Ordinal)));
        Assert.Equal(["RateLimits:PerAlias:ConcurrencyLimit must be 1 .. 10000000"], new RateLimitOptionsValidator().Validate(null, limits).Failures);
    }
}
