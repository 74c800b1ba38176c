using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Grains.EndEntities;
using CmpCluster.Grains.Internal;
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

    /// <summary>What an earlier version left: the end entity's DN in an index grain of its own, not in the store's index.</summary>
    private async Task IndexedAsAnEarlierVersionDidAsync(string username, string subject)
    {
        string key = DnCanonical.Key(subject)!;
        await cluster.SubjectIndex.RemoveAsync(key, username);
        await cluster.Internal.GetGrain<IEndEntityIndexGrain>(key).AddAsync(username);
        Assert.Equal([username], await cluster.SubjectIndex.FindAsync(key));
    }

    [Fact]
    public async Task An_end_entity_an_earlier_version_indexed_is_found_by_its_dn_after_the_upgrade()
    {
        string id = Guid.NewGuid().ToString("N")[..10];
        string subject = $"CN=upgraded {id},O=Example";
        await RegisterAsync("upgraded-" + id, subject, "code-" + id);
        await IndexedAsAnEarlierVersionDidAsync("upgraded-" + id, subject);
        var session = new CmpClientSession("code-" + id, "whatever");

        Exchange ip = await cluster.SendAsync(Aliases.ClientByDn, session, session.BuildEnrollment(true, new X509Name(subject), _key, implicitConfirm: true));

        Assert.Equal(PkiBodyType.Ip, ip.View.BodyType);
    }

    [Fact]
    public async Task A_twin_in_the_store_and_one_an_earlier_version_indexed_are_still_ambiguous()
    {
        string id = Guid.NewGuid().ToString("N")[..10];
        string subject = $"CN=old twin {id},O=Example";
        await RegisterAsync("old-" + id, subject, "code-old-" + id);
        await IndexedAsAnEarlierVersionDidAsync("old-" + id, subject);
        await RegisterAsync("new-" + id, subject, "code-new-" + id);
        var session = new CmpClientSession("code-new-" + id, "whatever");

        Exchange error = await cluster.SendAsync(Aliases.ClientByDn, session, session.BuildEnrollment(true, new X509Name(subject), _key));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.NotAuthorized);
    }

    [Fact]
    public async Task A_new_dn_moves_an_end_entity_an_earlier_version_indexed_out_of_its_old_entry()
    {
        string id = Guid.NewGuid().ToString("N")[..10];
        string before = $"CN=moving {id},O=Example", after = $"CN=moved {id},O=Example";
        await RegisterAsync("moving-" + id, before, "code-" + id);
        await IndexedAsAnEarlierVersionDidAsync("moving-" + id, before);

        await cluster.Internal.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity("moving-" + id))
            .UpdateAsync(new EndEntityRegistration(after, [], "issuing", "default", "default", null));

        Assert.Empty(await cluster.SubjectIndex.FindAsync(DnCanonical.Key(before)!));
        Assert.Empty(await cluster.Internal.GetGrain<IEndEntityIndexGrain>(DnCanonical.Key(before)!).GetAsync());
        Assert.Equal(["moving-" + id], await cluster.SubjectIndex.FindAsync(DnCanonical.Key(after)!));
    }
}
