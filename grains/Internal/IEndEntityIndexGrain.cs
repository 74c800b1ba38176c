using CmpCluster.Contracts;

namespace CmpCluster.Grains.Internal;

/// <summary>
/// Silo-internal. Subject DN → usernames (key: <see cref="GrainKeys.SubjectIndex"/>), so client mode can find the end entity by the
/// whole requested DN (EJBCA's default user lookup). Maintained by the end-entity grains.
/// </summary>
[Alias("CmpCluster.IEndEntityIndexGrain")]
public interface IEndEntityIndexGrain : IGrainWithStringKey
{
    [Alias("Add")]
    Task AddAsync(string username);

    [Alias("Remove")]
    Task RemoveAsync(string username);

    [Alias("Get")]
    Task<IReadOnlyList<string>> GetAsync();
}
