using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;
using Xunit;

namespace CmpCluster.Tests.Grains;

/// <summary>EJBCA's CMP documentation, "User look-up": by default the whole requested subject DN finds the registered end entity.</summary>
[Collection(CmpClusterCollection.Name)]
public sealed class DnUserLookupTests(CmpClusterFixture cluster)
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    private Task<EndEntityView?> RegisterAsync(string username, string subject, string code) =>
        cluster.Internal.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username))
            .RegisterAsync(new EndEntityRegistration(subject, [], "issuing", "default", "default", code), replace: false);

    [Fact]
    public async Task The_requested_dn_finds_the_end_entity_whatever_the_rdn_order_and_case()
    {
        string id = Guid.NewGuid().ToString("N")[..10];
        await RegisterAsync("user-" + id, $"CN=Device {id},O=Example", "code-" + id);
        var session = new CmpClientSession("code-" + id, "whatever");

        Exchange ip = await cluster.SendAsync(Aliases.ClientByDn, session,
            session.BuildEnrollment(true, new X509Name($"o=EXAMPLE,cn=device {id}"), _key, implicitConfirm: true));

        Assert.Equal(PkiBodyType.Ip, ip.View.BodyType);
        Assert.Equal(EndEntityStatus.Generated, (await cluster.Internal.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity("user-" + id)).GetAsync())!.Status);
    }

    [Fact]
    public async Task Two_end_entities_with_one_dn_make_the_lookup_ambiguous_and_notAuthorized()
    {
        string id = Guid.NewGuid().ToString("N")[..10];
        string subject = $"CN=twin {id},O=Example";
        await RegisterAsync("twin-a-" + id, subject, "code-a-" + id);
        await RegisterAsync("twin-b-" + id, subject, "code-b-" + id);
        var session = new CmpClientSession("code-a-" + id, "whatever");

        Exchange error = await cluster.SendAsync(Aliases.ClientByDn, session, session.BuildEnrollment(true, new X509Name(subject), _key));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.NotAuthorized);
    }

    [Fact]
    public async Task Deleting_the_twin_makes_the_dn_unique_again()
    {
        string id = Guid.NewGuid().ToString("N")[..10];
        string subject = $"CN=twin2 {id},O=Example";
        await RegisterAsync("keep-" + id, subject, "code-keep-" + id);
        await RegisterAsync("drop-" + id, subject, "code-drop-" + id);
        Assert.True(await cluster.Internal.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity("drop-" + id)).DeleteAsync());
        var session = new CmpClientSession("code-keep-" + id, "whatever");

        Exchange ip = await cluster.SendAsync(Aliases.ClientByDn, session, session.BuildEnrollment(true, new X509Name(subject), _key, implicitConfirm: true));

        Assert.Equal(PkiBodyType.Ip, ip.View.BodyType);
    }

    [Fact]
    public async Task A_dn_carrying_the_code_in_its_UID_finds_the_end_entity_registered_without_it()
    {
        string id = Guid.NewGuid().ToString("N")[..10];
        string subject = $"CN=uid-device {id},O=Example";
        await RegisterAsync("uid-" + id, subject, "code-uid-" + id);
        var session = new CmpClientSession("unused", "whatever");

        Exchange ip = await cluster.SendAsync(Aliases.ClientByDn, session, session.BuildEnrollment(true,
            new X509Name($"{subject},UID=code-uid-{id}"), _key, implicitConfirm: true, overrides: new RequestOverrides { Unprotected = true }));

        Assert.Equal(PkiBodyType.Ip, ip.View.BodyType);
    }
}
