import { OrderSummary } from "@point_of_sale/app/screens/product_screen/order_summary/order_summary";
import { LoyaltyCrmMemberCard } from "@loyalty_crm/app/member_card/member_card";

OrderSummary.components = { ...OrderSummary.components, LoyaltyCrmMemberCard };
