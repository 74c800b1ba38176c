using CmpCluster.Silo.Storage;
using Orleans;
using Orleans.Runtime;
using Xunit;

namespace CmpCluster.Tests.Storage;

public sealed class SqliteReminderTableTests : IDisposable
{
    private const string ServiceId = "svc";
    private readonly TempDataDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private SqliteReminderTable NewTable(string serviceId = ServiceId) => new(_dir.Options(), serviceId);

    private static GrainId Grain(string key) => GrainId.Create("reminder-test", key);

    private static ReminderEntry Entry(GrainId grain, string name, int minutes = 1) => new()
    {
        GrainId = grain,
        ReminderName = name,
        StartAt = new DateTime(2025, 6, 1, 12, 0, 0, DateTimeKind.Utc),
        Period = TimeSpan.FromMinutes(minutes),
    };

    [Fact]
    public async Task Upsert_then_read_back_by_row_and_by_grain()
    {
        using var table = NewTable();
        var grain = Grain("a");
        var etag = await table.UpsertRow(Entry(grain, "r1"));
        await table.UpsertRow(Entry(grain, "r2", minutes: 5));
        await table.UpsertRow(Entry(Grain("other"), "r1"));

        var row = await table.ReadRow(grain, "r1");
        Assert.NotNull(row);
        Assert.Equal(grain, row.GrainId);
        Assert.Equal("r1", row.ReminderName);
        Assert.Equal(new DateTime(2025, 6, 1, 12, 0, 0, DateTimeKind.Utc), row.StartAt);
        Assert.Equal(DateTimeKind.Utc, row.StartAt.Kind);
        Assert.Equal(TimeSpan.FromMinutes(1), row.Period);
        Assert.Equal(etag, row.ETag);

        var rows = await table.ReadRows(grain);
        Assert.Equal(["r1", "r2"], rows.Reminders.Select(r => r.ReminderName).Order());

        Assert.Null(await table.ReadRow(grain, "missing"));
        Assert.Empty((await table.ReadRows(Grain("nobody"))).Reminders);
    }

    [Fact]
    public async Task Upsert_replaces_the_row_and_issues_a_new_etag()
    {
        using var table = NewTable();
        var grain = Grain("b");
        var first = await table.UpsertRow(Entry(grain, "r"));
        var second = await table.UpsertRow(Entry(grain, "r", minutes: 10));

        Assert.NotEqual(first, second);
        var row = await table.ReadRow(grain, "r");
        Assert.Equal(second, row!.ETag);
        Assert.Equal(TimeSpan.FromMinutes(10), row.Period);
        Assert.Single((await table.ReadRows(grain)).Reminders);
    }

    [Fact]
    public async Task Remove_requires_the_current_etag()
    {
        using var table = NewTable();
        var grain = Grain("c");
        var stale = await table.UpsertRow(Entry(grain, "r"));
        var current = await table.UpsertRow(Entry(grain, "r"));

        Assert.False(await table.RemoveRow(grain, "r", stale!));
        Assert.False(await table.RemoveRow(grain, "r", "bogus"));
        Assert.NotNull(await table.ReadRow(grain, "r"));

        Assert.True(await table.RemoveRow(grain, "r", current!));
        Assert.Null(await table.ReadRow(grain, "r"));
        Assert.False(await table.RemoveRow(grain, "r", current!));
    }

    [Fact]
    public async Task Range_reads_match_orleans_ring_semantics_including_wrap_around()
    {
        using var table = NewTable();
        var grains = Enumerable.Range(0, 64).Select(i => Grain($"ring-{i}")).ToList();
        foreach (var grain in grains)
        {
            await table.UpsertRow(Entry(grain, "r"));
        }

        var hashes = grains.Select(g => g.GetUniformHashCode()).Order().ToList();
        var lowest = hashes[0];
        var middle = hashes[hashes.Count / 2];
        var highest = hashes[^1];

        var ranges = new (uint Begin, uint End)[]
        {
            (0, uint.MaxValue),          // plain range covering everything but hash 0
            (lowest, highest),           // begin is exclusive, end inclusive
            (middle, highest),
            (lowest - 1, lowest),        // exactly one grain
            (middle, lowest),            // wraps past uint.MaxValue
            (highest, middle),           // wraps
            (uint.MaxValue, 0),          // wraps: hash 0 only / nothing
            (middle, middle),            // begin == end: the whole ring
            (0, 0),
        };

        foreach (var (begin, end) in ranges)
        {
            // The oracle is Orleans' own range type, so this checks we mirror it exactly.
            var range = RangeFactory.CreateRange(begin, end);
            var expected = grains.Where(g => range.InRange(g)).Select(g => g.ToString()).Order().ToList();
            var actual = (await table.ReadRows(begin, end)).Reminders.Select(r => r.GrainId.ToString()).Order().ToList();
            Assert.True(expected.SequenceEqual(actual), $"range ({begin}, {end}]: expected {expected.Count}, got {actual.Count}");
        }

        Assert.Equal(grains.Count, (await table.ReadRows(middle, middle)).Reminders.Count);
        Assert.Single((await table.ReadRows(lowest - 1, lowest)).Reminders);
        Assert.Equal(hashes.Count(h => h > middle || h <= lowest), (await table.ReadRows(middle, lowest)).Reminders.Count);
    }

    [Fact]
    public async Task Reminders_survive_reopening_and_are_scoped_by_service_id()
    {
        var grain = Grain("d");
        string? etag;
        using (var table = NewTable())
        {
            etag = await table.UpsertRow(Entry(grain, "r"));
        }

        using var reopened = NewTable();
        using var otherService = NewTable("other-service");
        Assert.Equal(etag, (await reopened.ReadRow(grain, "r"))!.ETag);
        Assert.Null(await otherService.ReadRow(grain, "r"));
        Assert.Empty((await otherService.ReadRows(0, 0)).Reminders);

        await otherService.UpsertRow(Entry(grain, "r"));
        await reopened.TestOnlyClearTable();
        Assert.Empty((await reopened.ReadRows(0, 0)).Reminders);
        Assert.NotNull(await otherService.ReadRow(grain, "r"));
    }
}
