using System.Security.Cryptography;
using System.Text;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// Signature POP over a POPOSigningKeyInput (RFC 4211 §4.1): the key may come only there, and its authInfo is checked:
/// <c>sender</c> must be the request's sender, a <c>publicKeyMAC</c> must verify with the alias's shared secret.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class SigningKeyInputTests(CmpClusterFixture cluster) : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public void Dispose() => _key.Dispose();

    /// <summary>The PKIHeader sender the project's client puts into MAC-protected requests.</summary>
    private static readonly GeneralName ClientSender = new(new X509Name("CN=cmp-client"));

    private async Task<Exchange> EnrollAsync(string alias, string secret, GeneralName? sender, byte[]? macSecret, bool keyInTemplate)
    {
        CmpClientSession session = CmpClusterFixture.NewSession(secret);
        return await cluster.SendAsync(alias, session, session.BuildEnrollmentWithSigningInput(
            new X509Name($"CN=poposk-{Guid.NewGuid():N}"), _key, sender, macSecret, keyInTemplate));
    }

    [Fact]
    public async Task A_key_given_only_in_the_signing_input_with_the_requests_sender_is_certified()
    {
        Exchange ip = await EnrollAsync(Aliases.Pbe, Aliases.Secret, ClientSender, null, keyInTemplate: false);

        byte[] der = ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        Assert.Equal(_key.ExportSubjectPublicKeyInfo(), X509CertificateStructure.GetInstance(der).SubjectPublicKeyInfo.GetDerEncoded());
    }

    [Fact]
    public async Task A_sender_that_is_not_the_requests_is_badPOP()
    {
        Exchange error = await EnrollAsync(Aliases.Pbe, Aliases.Secret, new GeneralName(new X509Name("CN=someone-else")), null, keyInTemplate: true);

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadPop);
    }

    [Fact]
    public async Task A_publicKeyMAC_keyed_with_the_alias_secret_is_accepted_and_one_with_another_secret_is_badPOP()
    {
        Exchange ip = await EnrollAsync(Aliases.Pbe, Aliases.Secret, null, Encoding.UTF8.GetBytes(Aliases.Secret), keyInTemplate: false);
        Exchange error = await EnrollAsync(Aliases.Pbe, Aliases.Secret, null, Encoding.UTF8.GetBytes("another secret"), keyInTemplate: false);

        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadPop);
    }

    [Fact]
    public async Task A_publicKeyMAC_on_an_alias_without_a_secret_of_its_own_is_badPOP()
    {
        Exchange error = await EnrollAsync(Aliases.CaSecret, Aliases.CaRaSecret, null, Encoding.UTF8.GetBytes(Aliases.CaRaSecret), keyInTemplate: true);

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadPop);
    }
}
