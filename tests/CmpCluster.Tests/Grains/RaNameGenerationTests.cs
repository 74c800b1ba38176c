using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Grains.EndEntities;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using Org.BouncyCastle.Asn1.X509;
using Xunit;

namespace CmpCluster.Tests.Grains;

/// <summary>RA mode (EJBCA's CMP documentation: "RA mode for CMP", "RA Name Generation Scheme"): the end entity is created on the fly, and an
/// existing one is updated and re-issued.</summary>
[Collection(CmpClusterCollection.Name)]
public sealed class RaNameGenerationTests(CmpClusterFixture cluster)
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    [Fact]
    public async Task An_ra_enrollment_creates_the_end_entity_named_by_the_subject_and_a_second_one_reissues_it()
    {
        var subject = new X509Name($"CN=ra-made-{Guid.NewGuid():N},O=Example");
        var first = CmpClusterFixture.NewSession();
        Exchange ip1 = await cluster.SendAsync(Aliases.Pbe, first, first.BuildEnrollment(true, subject, _key, implicitConfirm: true));
        var second = CmpClusterFixture.NewSession();
        Exchange ip2 = await cluster.SendAsync(Aliases.Pbe, second, second.BuildEnrollment(true, subject, _key, implicitConfirm: true));

        Assert.Equal(PkiBodyType.Ip, ip1.View.BodyType);
        Assert.Equal(PkiBodyType.Ip, ip2.View.BodyType);
        EndEntityView view = (await cluster.Internal.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(subject.ToString())).GetAsync())!;
        Assert.Equal(EndEntityStatus.Generated, view.Status);
        Assert.Equal(2, view.CertificateKeys.Count);
        Assert.True(new X509Name(view.SubjectDn).Equivalent(subject));
    }

    [Fact]
    public async Task An_end_entity_keeps_only_its_newest_certificates_linked()
    {
        // A device renewing for years must not grow its end entity without end (EndEntityGrain.MaxLinkedCertificates).
        var subject = new X509Name($"CN=ra-renewing-{Guid.NewGuid():N},O=Example");
        var issued = new List<string>();
        for (int i = 0; i < EndEntityGrain.MaxLinkedCertificates + 2; i++)
        {
            var session = CmpClusterFixture.NewSession();
            Exchange ip = await cluster.SendAsync(Aliases.Pbe, session, session.BuildEnrollment(true, subject, _key, implicitConfirm: true));
            Assert.Equal(PkiBodyType.Ip, ip.View.BodyType);
            issued.Add(Assert.Single((await cluster.SnapshotAsync(Aliases.Pbe, session)).CertificateKeys));
        }

        EndEntityView view = (await cluster.Internal.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(subject.ToString())).GetAsync())!;
        Assert.Equal(issued.Skip(2), view.CertificateKeys);
    }

    [Theory]
    [InlineData(RaNameGeneration.Dn, null, "", "", "CN=dev-7,UID=u-7,O=Example")]
    [InlineData(RaNameGeneration.Dn, "UID", "cmp", "", "cmpu-7")] // the sample configuration of EJBCA's CMP documentation
    [InlineData(RaNameGeneration.Dn, "CN", "", "_IPSEC", "dev-7_IPSEC")]
    [InlineData(RaNameGeneration.DnPart, "UID", "cmp", "", "cmpu-7")]
    [InlineData(RaNameGeneration.DnPart, null, "", "@site", "dev-7@site")]
    [InlineData(RaNameGeneration.Fixed, "the-ra", "", "", "the-ra")]
    [InlineData(RaNameGeneration.Username, "ignored", "", "", "CN=dev-7,UID=u-7,O=Example")]
    public void Names_follow_the_scheme_with_prefix_and_postfix(RaNameGeneration scheme, string? parameter, string prefix, string postfix, string expected)
    {
        var alias = new CmpAliasOptions
        {
            RaNameGeneration = scheme, RaNameGenerationParameter = parameter, RaNameGenerationPrefix = prefix, RaNameGenerationPostfix = postfix,
        };
        Assert.Equal(expected, RaNames.Generate(alias, new X509Name("CN=dev-7,UID=u-7,O=Example")));
    }

    [Fact]
    public void Random_names_differ_and_a_missing_dn_part_is_badCertTemplate()
    {
        var random = new CmpAliasOptions { RaNameGeneration = RaNameGeneration.Random };
        var subject = new X509Name("CN=dev-8");
        Assert.NotEqual(RaNames.Generate(random, subject), RaNames.Generate(random, subject));

        var byUid = new CmpAliasOptions { RaNameGeneration = RaNameGeneration.DnPart, RaNameGenerationParameter = "UID" };
        CmpFailureException e = Assert.Throws<CmpFailureException>(() => RaNames.Generate(byUid, subject));
        Assert.Equal(PkiFailureInfo.BadCertTemplate, e.Failure.FailInfo);
    }
}
