using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Grains.Internal;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// End-entity profiles with DN rules in RA mode (the fixture's "gnb": CN required, O fixed to Operator, C defaulting to
/// DE, OU optional, nothing else): refused fields are badCertTemplate, changed subjects grantedWithMods.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class EndEntityProfileTests(CmpClusterFixture cluster) : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public void Dispose() => _key.Dispose();

    private async Task<Exchange> EnrollAsync(string subject)
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        return await cluster.SendAsync(Aliases.EndEntityProfile, session, session.BuildEnrollment(initial: true, new X509Name(subject), _key));
    }

    private static X509Name SubjectOf(Exchange exchange) => X509CertificateStructure.GetInstance(exchange.View.CertificateDer!).Subject;

    [Fact]
    public async Task A_fixed_field_takes_the_profiles_value_a_default_one_is_added_and_the_answer_is_grantedWithMods()
    {
        string cn = $"gnb-{Guid.NewGuid():N}";

        Exchange ip = await EnrollAsync($"CN={cn},O=Someone Else");

        Assert.Equal(PkiBodyType.Ip, ip.View.BodyType);
        Assert.Equal((int)PkiStatus.GrantedWithMods, ip.View.Status!.Status.IntValueExact);
        Assert.True(SubjectOf(ip).Equivalent(new X509Name($"CN={cn},O=Operator,C=DE"), inOrder: false), SubjectOf(ip).ToString());
    }

    /// <summary>With KeyID the certificate profile is known only per request: the end-entity profile's list is checked then.</summary>
    [Theory]
    [InlineData("default", true)]
    [InlineData("hold", false)]
    public async Task A_certificate_profile_named_by_KeyID_must_be_one_the_end_entity_profile_allows(string profile, bool allowed)
    {
        var session = new CmpClientSession(Aliases.Secret, profile);

        Exchange answer = await cluster.SendAsync(Aliases.EndEntityProfileKeyId, session,
            session.BuildEnrollment(initial: true, new X509Name($"CN=gnb-{Guid.NewGuid():N},O=Operator,C=DE"), _key));

        if (allowed)
        {
            ProtocolAssert.Granted(answer.View, PkiBodyType.Ip);
        }
        else
        {
            ProtocolAssert.Rejected(answer.View, PkiFailureInfo.NotAuthorized);
            Assert.Empty((await cluster.SnapshotAsync(Aliases.EndEntityProfileKeyId, session)).CertificateKeys);
        }
    }

    [Fact]
    public async Task A_subject_that_meets_the_rules_is_granted_as_asked_and_the_end_entity_has_the_profile()
    {
        string subject = $"CN=gnb-{Guid.NewGuid():N},OU=Radio,O=Operator,C=DE";

        Exchange ip = await EnrollAsync(subject);

        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        Assert.True(SubjectOf(ip).Equivalent(new X509Name(subject), inOrder: true));
        EndEntityView? endEntity = await cluster.Internal.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(new X509Name(subject).ToString())).GetAsync();
        Assert.Equal("gnb", endEntity?.EndEntityProfile);
    }

    [Theory]
    [InlineData("CN=gnb-l,L=Berlin", "not allowed")]
    [InlineData("O=Operator,OU=Radio", "required")]
    public async Task A_field_the_profile_does_not_allow_or_a_missing_required_one_is_badCertTemplate(string subject, string because)
    {
        Exchange error = await EnrollAsync(subject);

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadCertTemplate);
        Assert.Contains(because, error.View.Status!.StatusString?[0].GetString() ?? "");
    }
}
