// Demo documents for `npm run dev`: ingested through GraphQL (the real path: R2, queue,
// chunking, embeddings, vector store) into the acme and globex tenants when they have none.
export const SEED_DOCUMENTS = {
  acme: [
    {
      name: 'handbook/holidays.md',
      collectionId: 'aaaaaaaa-0000-4000-8000-000000000001',
      tags: ['hr', 'policy'],
      text: `# Holidays and leave

## Vacation
Every Acme employee gets 25 vacation days per calendar year. Up to five unused days carry
over to the next year and expire on 31 March.

## Sick leave
Report sick leave to your manager before 10:00 on the first day. From the fourth day a
doctor's note is required.

## Public holidays
Acme offices close on national public holidays. Support staff on the holiday rota get a
compensating day off within the same quarter.`,
    },
    {
      name: 'handbook/expenses.md',
      collectionId: 'aaaaaaaa-0000-4000-8000-000000000001',
      tags: ['finance', 'policy'],
      text: `# Expenses

## Travel
Book trains in second class and flights in economy. Travel over six hours may be booked in
first class or premium economy with your manager's approval.

## Claims
Upload receipts to the expense portal within 30 days. Claims are reimbursed with the next
monthly salary payment. Meals are reimbursed up to 45 EUR per day while travelling.`,
    },
    {
      name: 'it/security.txt',
      tags: ['it', 'security'],
      text: `Laptops must use full-disk encryption and lock after five minutes of inactivity.

Passwords are stored in the company password manager only; never share them by email or chat.

Report a lost device to the IT service desk immediately, day or night, on extension 4444.`,
    },
  ],
  globex: [
    {
      name: 'docs/widget-setup.md',
      collectionId: 'bbbbbbbb-0000-4000-8000-000000000001',
      tags: ['product'],
      text: `# Globex Widget setup

## Unboxing
The box contains the Widget, a blue USB-C cable and a wall mount.

## Pairing
Hold the power button for five seconds until the light blinks green, then open the Globex
app and choose "Add device".

## Troubleshooting
If the light blinks red, the Widget is out of range: move it closer to the hub and retry.`,
    },
    {
      name: 'docs/warranty.md',
      collectionId: 'bbbbbbbb-0000-4000-8000-000000000001',
      tags: ['support'],
      text: `# Warranty

Globex Widgets carry a two-year warranty from the date of purchase. The warranty covers
manufacturing defects, not water damage. Start a claim in the Globex app under Support with
your order number.`,
    },
  ],
};
