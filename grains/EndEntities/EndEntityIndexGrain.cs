using CmpCluster.Contracts;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.EndEntities;

[GenerateSerializer]
[Alias("CmpCluster.EndEntityIndexState")]
public sealed class EndEntityIndexState
{
    [Id(0)] public List<string> Usernames { get; set; } = [];
}

/// <summary>The usernames registered with one subject DN; more than one makes a DN lookup ambiguous. Touched once per
/// registration or lookup, so not kept resident: a change deactivates it at once, a lookup after two idle minutes.</summary>
[CollectionAgeLimit(Minutes = 2)]
public sealed class EndEntityIndexGrain(
    [PersistentState("endEntityIndex", GrainNames.Storage)] IPersistentState<EndEntityIndexState> state) : Grain, IEndEntityIndexGrain
{
    public async Task AddAsync(string username)
    {
        if (!state.State.Usernames.Contains(username))
        {
            state.State.Usernames.Add(username);
            await state.WriteStateAsync();
        }
        DeactivateOnIdle();
    }

    public async Task RemoveAsync(string username)
    {
        if (state.State.Usernames.Remove(username))
        {
            await state.WriteStateAsync();
        }
        DeactivateOnIdle();
    }

    public Task<IReadOnlyList<string>> GetAsync() => Task.FromResult<IReadOnlyList<string>>(state.State.Usernames.ToArray());
}

/// <summary>
/// A subject DN in a form that ignores what RFC 5280 §7.1 comparison ignores here: RDN order, letter case and
/// surrounding spaces of values. "CN=Dev 1, O=Example" and "o=example,cn=dev 1" index the same end entity.
/// </summary>
public static class DnCanonical
{
    public static string Of(X509Name name)
    {
        var oids = name.GetOidList();
        var values = name.GetValueList();
        return string.Join(",", oids
            .Select((oid, i) => oid.Id + "=" + values[i].Trim().ToLowerInvariant())
            .Order(StringComparer.Ordinal));
    }

    public static string? Of(string dn)
    {
        try
        {
            return Of(new X509Name(dn));
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    public static string Key(X509Name name) => GrainKeys.SubjectIndex(Of(name));

    public static string? Key(string dn) => Of(dn) is { } canonical ? GrainKeys.SubjectIndex(canonical) : null;
}
