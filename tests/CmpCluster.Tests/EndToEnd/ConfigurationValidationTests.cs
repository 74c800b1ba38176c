using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>A bad configuration stops the process at start, with a message that names the key.</summary>
public sealed class ConfigurationValidationTests
{
    [Theory]
    [InlineData("--Cmp:Aliases:ra:ConfirmWaitTime=-00:00:01", "Cmp:Aliases:ra:ConfirmWaitTime")]
    [InlineData("--Cmp:Limits:MaxMessageBytes=10", "Cmp:Limits:MaxMessageBytes")]
    [InlineData("--Tcp:Alias=no-such-alias", "Tcp:Alias")]
    [InlineData("--RateLimits:PerAddress:TokenLimit=0", "RateLimits:PerAddress:TokenLimit")]
    [InlineData("--RateLimits:PerAlias:ConcurrencyLimit=-1", "RateLimits:PerAlias:ConcurrencyLimit")]
    [InlineData("--RateLimits:KnownProxies:0=haproxy.internal", "RateLimits:KnownProxies:0")]
    [InlineData("--Management:Urls=ftp://127.0.0.1:21", "Management:Urls")]
    [InlineData("--Cmp:Profiles:default:AllowedCurves:0=secp256k1", "Cmp:Profiles:default:AllowedCurves")]
    [InlineData("--Cmp:Profiles:default:MinRsaBits=9000", "Cmp:Profiles:default:MinRsaBits")]
    [InlineData("--Cmp:Profiles:default:AllowedSubjectAltNameTypes:0=x400", "Cmp:Profiles:default:AllowedSubjectAltNameTypes")]
    [InlineData("--Pki:Cas:tls:Crl:RenewBefore=2.00:00:00", "Pki:Cas:tls:Crl:RenewBefore")]
    [InlineData("--Cmp:EndEntityProfiles:gnb:Fields:Colour:Use=Optional", "Cmp:EndEntityProfiles:gnb:Fields:Colour")]
    [InlineData("--Cmp:Aliases:ra:EnrollmentPolicies:0=nowhere", "Cmp:Aliases:ra:EnrollmentPolicies")]
    [InlineData("--Cmp:Aliases:ra:Ca=nowhere", "Cmp:Aliases:ra:Ca")]
    [InlineData("--Pki:Cas:Issuing:IssuingSubject=CN=Twin", "Pki:Cas:Issuing")]
    [InlineData("--Pki:CaKeys:nowhere:Token=hsm", "Pki:CaKeys:nowhere")]
    [InlineData("--Pki:Cas:tls:IssuingSubject=CN=CmpCluster Issuing CA,O=CmpCluster", "Pki:Cas:tls")]
    public async Task Bad_setting_stops_the_node_with_a_message_naming_the_key(string argument, string key)
    {
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => NodeProcess.StartAsync([argument], timeout: TimeSpan.FromSeconds(60)));

        Assert.Contains("exited with code", failure.Message);
        Assert.Contains(key, failure.Message.Split("--- node output ---")[1]);
    }
}
